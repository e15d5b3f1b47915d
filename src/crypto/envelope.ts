import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { RotorError } from '../core/errors.js';
import { SecretValue } from '../core/secret-value.js';
import type { MasterKey, MasterKeyring } from './master-keyring.js';

/** What the store keeps for one version: nothing here reveals the value without the master key. */
export interface SealedValue {
  readonly ciphertext: Buffer;
  readonly wrappedKey: Buffer;
  readonly masterKeyVersion: number;
}

/** The row a ciphertext belongs to; bound as additional authenticated data. */
export interface VersionBinding {
  readonly secret: string;
  readonly version: number;
}

const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Encrypts `value` under a fresh data key, which is wrapped by the master key. */
export function sealValue(
  value: SecretValue,
  binding: VersionBinding,
  master: MasterKey,
): SealedValue {
  const dataKey = randomBytes(32);
  try {
    return {
      ciphertext: encrypt(dataKey, value.revealBytes(), valueAad(binding)),
      wrappedKey: encrypt(master.key, dataKey, keyAad(binding, master.version)),
      masterKeyVersion: master.version,
    };
  } finally {
    dataKey.fill(0);
  }
}

export function openValue(
  sealed: SealedValue,
  binding: VersionBinding,
  keyring: MasterKeyring,
): SecretValue {
  const master = keyring.get(sealed.masterKeyVersion);
  const where = `${binding.secret} version ${binding.version}`;
  if (!master) {
    throw new RotorError(
      'ERR_DECRYPT',
      `cannot decrypt ${where}: it is wrapped by master key version ${sealed.masterKeyVersion}, which is not loaded`,
    );
  }
  const dataKey = unwrapDataKey(master, sealed.wrappedKey, binding, where);
  return SecretValue.fromBuffer(decrypt(dataKey, sealed.ciphertext, valueAad(binding), where));
}

/**
 * Data keys unwrapped by each master key, so that reading a version again
 * costs one decryption instead of two. A version's data key never changes,
 * and one held here reveals nothing the master key beside it could not: both
 * live in this process. Entries are keyed by the wrapped key and its
 * binding, so a moved or altered one still fails to unwrap.
 */
const unwrappedKeys = new WeakMap<MasterKey, Map<string, Buffer>>();
const UNWRAPPED_KEYS_PER_MASTER_KEY = 1_024;

function unwrapDataKey(
  master: MasterKey,
  wrappedKey: Buffer,
  binding: VersionBinding,
  where: string,
): Buffer {
  const aad = keyAad(binding, master.version);
  let keys = unwrappedKeys.get(master);
  if (!keys) {
    keys = new Map();
    unwrappedKeys.set(master, keys);
  }
  const id = `${aad.toString()}:${wrappedKey.toString('base64')}`;
  const known = keys.get(id);
  if (known) return known;
  const dataKey = decrypt(master.key, wrappedKey, aad, where);
  if (keys.size >= UNWRAPPED_KEYS_PER_MASTER_KEY) {
    const [oldest, key] = keys.entries().next().value as [string, Buffer];
    key.fill(0);
    keys.delete(oldest);
  }
  keys.set(id, dataKey);
  return dataKey;
}

// Names cannot contain ':' so the binding strings are unambiguous.
function valueAad(b: VersionBinding): Buffer {
  return Buffer.from(`rotor:value:v${FORMAT}:${b.secret}:${b.version}`);
}

function keyAad(b: VersionBinding, masterVersion: number): Buffer {
  return Buffer.from(`rotor:data-key:v${FORMAT}:${b.secret}:${b.version}:${masterVersion}`);
}

function encrypt(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT]), iv, cipher.getAuthTag(), body]);
}

function decrypt(key: Buffer, sealed: Buffer, aad: Buffer, where: string): Buffer {
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT) {
    throw new RotorError(
      'ERR_DECRYPT',
      `cannot decrypt ${where}: the stored ciphertext is malformed`,
    );
  }
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([
      decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
  } catch (cause) {
    throw new RotorError(
      'ERR_DECRYPT',
      `cannot decrypt ${where}: authentication failed (the ciphertext was altered or belongs to another secret or version)`,
      { cause },
    );
  }
}
