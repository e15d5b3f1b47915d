import { createHmac, hkdfSync } from 'node:crypto';

export interface MasterKey {
  readonly version: number;
  readonly key: Buffer;
}

/** The master keys a process holds, by version; new values are wrapped by `current`. */
export class MasterKeyring {
  readonly #keys: ReadonlyMap<number, MasterKey>;
  readonly current: MasterKey;

  constructor(keys: readonly MasterKey[]) {
    const newest = keys.reduce<MasterKey | undefined>(
      (best, k) => (best === undefined || k.version > best.version ? k : best),
      undefined,
    );
    if (!newest) throw new TypeError('Expected at least one master key.');
    this.#keys = new Map(keys.map((k) => [k.version, k]));
    this.current = newest;
  }

  get(version: number): MasterKey | undefined {
    return this.#keys.get(version);
  }
}

/**
 * A fingerprint stored beside each master key version, so a process started
 * with the wrong key fails at once with a clear message instead of on the
 * first decryption. It is an HMAC, so it reveals nothing about the key.
 */
export function masterKeyCheck(key: Buffer): string {
  return createHmac('sha256', key).update('rotor master key check v1').digest('hex');
}

/**
 * A keyed fingerprint of a value for the audit trail: it lets an auditor tell
 * whether two events concern the same value without the trail revealing it.
 */
export function valueFingerprint(keyring: MasterKeyring, value: Buffer): string {
  const auditKey = Buffer.from(
    hkdfSync('sha256', keyring.current.key, Buffer.alloc(0), 'rotor audit fingerprint v1', 32),
  );
  return createHmac('sha256', auditKey).update(value).digest('hex').slice(0, 32);
}
