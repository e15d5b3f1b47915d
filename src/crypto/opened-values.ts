import type { SecretValue } from '../core/secret-value.js';
import { openValue, type SealedValue, type VersionBinding } from './envelope.js';
import type { MasterKeyring } from './master-keyring.js';

// Plenty for the versions an API serves at once; a bound, whatever their sizes.
const MAX_BYTES = 8 * 1024 * 1024;

/**
 * Values decrypted recently, so that reading a version again does not
 * decrypt it again: every read is audited and served from a fresh store read,
 * but the decryption (an OpenSSL cipher set up twice) cost more than the rest
 * of an API read. A value held here reveals nothing the master key beside it
 * could not: both live in this process. Entries are keyed by the binding and
 * the stored bytes, so a rewritten, moved or altered row is opened afresh.
 */
export class OpenedValues {
  readonly #keyring: MasterKeyring;
  /** Concurrent reads share one sealed object: found without building a key. */
  readonly #bySealed = new WeakMap<SealedValue, SecretValue>();
  readonly #byContent = new Map<string, SecretValue>();
  #bytes = 0;

  constructor(keyring: MasterKeyring) {
    this.#keyring = keyring;
  }

  open(sealed: SealedValue, binding: VersionBinding): SecretValue {
    const known = this.#bySealed.get(sealed);
    if (known) return known;
    const key = [
      binding.secret,
      binding.version,
      sealed.masterKeyVersion,
      sealed.wrappedKey.toString('base64'),
      sealed.ciphertext.toString('base64'),
    ].join(':');
    let value = this.#byContent.get(key);
    if (!value) {
      value = openValue(sealed, binding, this.#keyring);
      this.#remember(key, value);
    }
    this.#bySealed.set(sealed, value);
    return value;
  }

  #remember(key: string, value: SecretValue): void {
    if (value.byteLength > MAX_BYTES) return;
    // The oldest go first: the versions being read now come straight back.
    for (const [oldKey, old] of this.#byContent) {
      if (this.#bytes + value.byteLength <= MAX_BYTES) break;
      this.#byContent.delete(oldKey);
      this.#bytes -= old.byteLength;
    }
    this.#byContent.set(key, value);
    this.#bytes += value.byteLength;
  }
}
