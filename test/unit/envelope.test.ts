import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/core/secret-value.js';
import { openValue, sealValue } from '../../src/crypto/envelope.js';
import {
  createMasterKeyFile,
  decodeMasterKey,
  readMasterKey,
} from '../../src/crypto/master-key-source.js';
import {
  MasterKeyring,
  masterKeyCheck,
  valueFingerprint,
} from '../../src/crypto/master-keyring.js';

const keyring = new MasterKeyring([{ version: 1, key: randomBytes(32) }]);
const binding = { secret: 'prod/db/app', version: 3 };

describe('envelope encryption', () => {
  it('round-trips a value and never stores it in clear', () => {
    const value = SecretValue.fromString('correct horse battery staple');
    const sealed = sealValue(value, binding, keyring.current);
    expect(sealed.ciphertext.includes(Buffer.from('correct horse'))).toBe(false);
    expect(sealed.masterKeyVersion).toBe(1);
    expect(openValue(sealed, binding, keyring).reveal()).toBe('correct horse battery staple');
  });

  it('uses a fresh data key and IV for every version', () => {
    const value = SecretValue.fromString('same');
    const a = sealValue(value, binding, keyring.current);
    const b = sealValue(value, binding, keyring.current);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.wrappedKey.equals(b.wrappedKey)).toBe(false);
  });

  it.each([
    ['another secret', { secret: 'prod/db/other', version: 3 }],
    ['another version', { secret: 'prod/db/app', version: 4 }],
  ])('refuses a ciphertext moved to %s', (_, other) => {
    const sealed = sealValue(SecretValue.fromString('v'), binding, keyring.current);
    expect(() => openValue(sealed, other, keyring)).toThrow(
      expect.objectContaining({
        code: 'ERR_DECRYPT',
        message: expect.stringMatching(/authentication failed/),
      }),
    );
  });

  it('refuses a flipped bit and a wrong master key', () => {
    const sealed = sealValue(SecretValue.fromString('v'), binding, keyring.current);
    const flipped = Buffer.from(sealed.ciphertext);
    flipped[flipped.length - 1] = (flipped.at(-1) ?? 0) ^ 1;
    expect(() => openValue({ ...sealed, ciphertext: flipped }, binding, keyring)).toThrow(
      /authentication failed/,
    );
    const wrong = new MasterKeyring([{ version: 1, key: randomBytes(32) }]);
    expect(() => openValue(sealed, binding, wrong)).toThrow(/authentication failed/);
    const missing = new MasterKeyring([{ version: 2, key: randomBytes(32) }]);
    expect(() => openValue(sealed, binding, missing)).toThrow(
      /master key version 1, which is not loaded/,
    );
  });
});

describe('SecretValue', () => {
  it('never serialises its plaintext', () => {
    const value = SecretValue.fromString('hunter2');
    expect(JSON.stringify({ value })).toBe('{"value":"[redacted]"}');
    expect(`${value}`).toBe('[redacted]');
    expect(inspect({ value })).not.toContain('hunter2');
    expect(value.reveal()).toBe('hunter2');
  });
});

describe('master keys', () => {
  it('decodes exactly 32 bytes of base64 and explains anything else', () => {
    const key = randomBytes(32);
    expect(decodeMasterKey(key.toString('base64'), 'ROTOR_MASTER_KEY').equals(key)).toBe(true);
    for (const bad of ['abc', randomBytes(16).toString('base64'), 'not base64 at all!!', '']) {
      expect(() => decodeMasterKey(bad, 'ROTOR_MASTER_KEY')).toThrow(
        expect.objectContaining({
          code: 'ERR_MASTER_KEY_INVALID',
          message: expect.stringMatching(/^ROTOR_MASTER_KEY must be base64 of exactly 32 bytes/),
        }),
      );
    }
  });

  it('writes the key file with mode 0600, never over an existing one, and prefers the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-key-'));
    const file = join(dir, 'master.key');
    expect(readMasterKey(undefined, file)).toBeUndefined();
    const key = createMasterKeyFile(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readMasterKey(undefined, file)?.equals(key)).toBe(true);
    expect(() => createMasterKeyFile(file)).toThrow(/EEXIST/);
    const fromEnv = randomBytes(32);
    expect(readMasterKey(fromEnv.toString('base64'), file)?.equals(fromEnv)).toBe(true);
    writeFileSync(file, 'garbage');
    expect(() => readMasterKey(undefined, file)).toThrow(
      /master key file .* must be base64 of exactly 32 bytes/,
    );
  });

  it('fingerprints a key without revealing it', () => {
    const key = randomBytes(32);
    expect(masterKeyCheck(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(masterKeyCheck(key)).toBe(masterKeyCheck(Buffer.from(key)));
    expect(masterKeyCheck(randomBytes(32))).not.toBe(masterKeyCheck(key));
  });
});

describe('value fingerprints for the audit trail', () => {
  it('match for the same value under the same key, and differ otherwise', () => {
    const value = Buffer.from('s3cr3t-value');
    const a = valueFingerprint(keyring, value);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(valueFingerprint(keyring, Buffer.from('s3cr3t-value'))).toBe(a);
    expect(valueFingerprint(keyring, Buffer.from('s3cr3t-valuf'))).not.toBe(a);
    const other = new MasterKeyring([{ version: 1, key: randomBytes(32) }]);
    expect(valueFingerprint(other, value)).not.toBe(a);
  });
});
