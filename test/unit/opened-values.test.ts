import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/core/secret-value.js';
import { sealValue } from '../../src/crypto/envelope.js';
import { MasterKeyring } from '../../src/crypto/master-keyring.js';
import { OpenedValues } from '../../src/crypto/opened-values.js';

const keyring = new MasterKeyring([{ version: 1, key: randomBytes(32) }]);
const binding = { secret: 'prod/db/app', version: 3 };

/** A copy of the sealed value as a fresh store read would give it: equal bytes, new objects. */
function reread(sealed: ReturnType<typeof sealValue>): ReturnType<typeof sealValue> {
  return {
    ...sealed,
    ciphertext: Buffer.from(sealed.ciphertext),
    wrappedKey: Buffer.from(sealed.wrappedKey),
  };
}

describe('OpenedValues', () => {
  it('opens a version once however often it is read', () => {
    const sealed = sealValue(SecretValue.fromString('s3cret'), binding, keyring.current);
    const opened = new OpenedValues(keyring);
    const first = opened.open(sealed, binding);
    expect(first.reveal()).toBe('s3cret');
    expect(opened.open(sealed, binding)).toBe(first);
    expect(opened.open(reread(sealed), binding)).toBe(first);
  });

  it('opens an altered row afresh, so tampering still fails every read', () => {
    const sealed = sealValue(SecretValue.fromString('s3cret'), binding, keyring.current);
    const opened = new OpenedValues(keyring);
    opened.open(sealed, binding);
    const altered = reread(sealed);
    altered.ciphertext[altered.ciphertext.length - 1] ^= 1;
    expect(() => opened.open(altered, binding)).toThrow(
      expect.objectContaining({ code: 'ERR_DECRYPT' }),
    );
    // The same bytes under another version's binding do not decrypt either.
    expect(() => opened.open(reread(sealed), { ...binding, version: 4 })).toThrow(
      expect.objectContaining({ code: 'ERR_DECRYPT' }),
    );
  });

  it('keeps serving correct values once more than its budget has been read', () => {
    const opened = new OpenedValues(keyring);
    const big = (i: number) => SecretValue.fromString(`${i}:${'x'.repeat(60 * 1024)}`);
    const sealed = Array.from({ length: 200 }, (_, i) =>
      sealValue(big(i), { ...binding, version: i + 1 }, keyring.current),
    );
    for (const [i, s] of sealed.entries()) {
      expect(
        opened
          .open(reread(s), { ...binding, version: i + 1 })
          .reveal()
          .startsWith(`${i}:`),
      ).toBe(true);
    }
    // The first was evicted long ago: it is opened again, and still right.
    const [first] = sealed;
    if (!first) throw new Error('no sealed values');
    expect(opened.open(reread(first), { ...binding, version: 1 }).reveal()).toMatch(/^0:/);
  });
});
