import type { RotorApiError } from './api-error.js';
import { type DatabaseCredential, parseDatabaseCredential } from './database-credential.js';
import type { RotorClient, SecretEntry } from './rotor-client.js';

/** The credential a new connection logs in with, and which version of the secret it is. */
export interface CredentialLease {
  readonly version: number;
  readonly credential: DatabaseCredential;
}

/** A login the target refused, about to be retried once with the value read anew. */
export interface RefusedLogin {
  readonly name: string;
  /** The version of the secret the refused login used. */
  readonly version: number;
  /** The driver's error (28P01 from PostgreSQL, ER_ACCESS_DENIED_ERROR, WRONGPASS...). */
  readonly error: Error;
}

/**
 * What the driver helpers log in with: the cached current value of a
 * credential secret, except in the window of a `single`-strategy rotation.
 * There the target already takes only the pending password while `current`
 * still holds the old one, so a login refused with the current version is
 * retried with the pending one, until the promotion reaches the cache.
 * One source per client and secret, shared by every helper using them.
 */
export class CredentialSource {
  readonly #client: RotorClient;
  readonly #name: string;
  /** The pending version found after a refused login; used while it is newer than the cache. */
  #pending: SecretEntry | undefined;
  #latest: SecretEntry | undefined;
  readonly #recoveries = new Map<number, Promise<void>>();
  readonly #listeners = new Set<(version: number) => void>();
  /** Whether the client's watch feeds changes of the secret to this source. */
  #watching = false;

  constructor(client: RotorClient, name: string) {
    this.#client = client;
    this.#name = name;
  }

  get name(): string {
    return this.#name;
  }

  /**
   * The version new connections use now, as last seen (undefined before the
   * first read): a connection made with another one is stale.
   */
  get version(): number | undefined {
    return this.#latest?.version;
  }

  /** Reads the credential through the client's cache (from the server when needed). */
  async current(): Promise<CredentialLease> {
    return leaseOf(this.#using(await this.#client.get(this.#name)));
  }

  /**
   * The credential {@link current} last returned, or a newer one announced
   * since: for drivers that build a connection synchronously.
   */
  latest(): CredentialLease {
    if (this.#latest === undefined) {
      throw new Error(`read the credential ${this.#name} with current() first`);
    }
    return leaseOf(this.#latest);
  }

  /**
   * After the target refused `failedVersion`: asks the server for the value
   * to retry with (the current one if it moved on, else the pending one of a
   * rotation in flight). Concurrent reports of one version share one recovery.
   */
  afterAuthFailure(failedVersion: number): Promise<void> {
    let recovery = this.#recoveries.get(failedVersion);
    if (recovery === undefined) {
      recovery = this.#recover(failedVersion).finally(() => this.#recoveries.delete(failedVersion));
      this.#recoveries.set(failedVersion, recovery);
    }
    return recovery;
  }

  /** Calls `listener` when the version new connections use changes. */
  onChange(listener: (version: number) => void): () => void {
    if (!this.#watching) {
      this.#watching = true;
      this.#client.watch(this.#name, (entry) => this.#using(entry));
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #recover(failedVersion: number): Promise<void> {
    // The pending value stays in use until the cache catches up with it (see #using), so that
    // no connection falls back to the old current value meanwhile; unless it is what failed
    // (its rotation was rolled back).
    if (this.#pending?.version === failedVersion) this.#pending = undefined;
    const current = await this.#client.refresh(this.#name);
    if (current.version === failedVersion) {
      const pending = await this.#client
        .read(this.#name, { stage: 'pending' })
        .catch((error: RotorApiError) => {
          if (error.code === 'ERR_VERSION_NOT_FOUND') return undefined;
          throw error;
        });
      if (pending !== undefined && pending.version !== failedVersion) {
        this.#pending = pending;
      } else {
        // No rotation in flight: it may have been promoted between the two reads.
        this.#using(await this.#client.refresh(this.#name));
        return;
      }
    }
    this.#using(current);
  }

  /** The entry to log in with, given the cached current one; notes a change of version. */
  #using(current: SecretEntry): SecretEntry {
    if (this.#pending !== undefined && this.#pending.version <= current.version) {
      this.#pending = undefined;
    }
    const entry = this.#pending ?? current;
    const previous = this.#latest;
    this.#latest = entry;
    if (previous !== undefined && previous.version !== entry.version) {
      for (const listener of [...this.#listeners]) listener(entry.version);
    }
    return entry;
  }
}

function leaseOf(entry: SecretEntry): CredentialLease {
  return { version: entry.version, credential: parseDatabaseCredential(entry) };
}

const sources = new WeakMap<RotorClient, Map<string, CredentialSource>>();

/** The one {@link CredentialSource} of `client` for the secret `name`. */
export function credentialSource(client: RotorClient, name: string): CredentialSource {
  let byName = sources.get(client);
  if (byName === undefined) {
    byName = new Map();
    sources.set(client, byName);
  }
  let source = byName.get(name);
  if (source === undefined) {
    source = new CredentialSource(client, name);
    byName.set(name, source);
  }
  return source;
}
