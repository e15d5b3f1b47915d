import pg from 'pg';
import { type CredentialSource, credentialSource, type RefusedLogin } from './credential-source.js';
import type { RotorClient } from './rotor-client.js';

export type { RefusedLogin };

export type RotorPgPoolOptions = Omit<
  pg.PoolConfig,
  'user' | 'password' | 'connectionString' | 'Client'
> & {
  /** Called each time a login was refused and is retried once with the value read anew. */
  readonly onLoginRefused?: (login: RefusedLogin) => void;
};

/** SQLSTATE invalid_password and invalid_authorization_specification. */
const AUTH_FAILURES: ReadonlySet<string> = new Set(['28P01', '28000']);

/** Why a connection made with an old credential leaves the pool; never shown to the application. */
const RETIRED = new Error('the credential this connection logged in with was rotated');

/**
 * A `pg` Pool logging in with the credential stored in the Rotor secret
 * `name` (`{host, port, database, username, password}`), so that:
 * - every new connection uses the value current at connect time (with the
 *   `alternating` strategy the username changes too);
 * - when the secret rotates, connections made with the old value are retired
 *   gracefully: idle ones at once, busy ones when released (queries in flight finish);
 * - a login refused with an authentication error (28P01, 28000) makes the
 *   pool read the secret anew and retry once, which closes the window of the
 *   `single` strategy (see {@link CredentialSource}).
 *
 * `host`, `port` and `database` given in `options` win over the secret's (a
 * proxy in between, say); `user` and `password` always come from Rotor.
 *
 * @example
 * ```ts
 * import { createClient } from 'rotor/client';
 * import { pgPool } from 'rotor/client/pg';
 * const pool = pgPool(createClient({ url, token }), 'prod/db/app', { max: 10 });
 * await pool.query('SELECT 1');
 * ```
 */
export function pgPool(
  client: RotorClient,
  name: string,
  options: RotorPgPoolOptions = {},
): RotorPgPool {
  return new RotorPgPool(credentialSource(client, name), options);
}

/** The Pool {@link pgPool} returns: a `pg.Pool` in every respect. */
export class RotorPgPool extends pg.Pool {
  readonly #source: CredentialSource;
  readonly #onLoginRefused: (login: RefusedLogin) => void;
  readonly #refusedVersions: WeakMap<Error, number>;
  readonly #versions: WeakMap<pg.ClientBase, number>;
  readonly #stopWatching: () => void;

  constructor(source: CredentialSource, options: RotorPgPoolOptions) {
    const { onLoginRefused, ...poolOptions } = options;
    const tracking = { refused: new WeakMap<Error, number>(), versions: new WeakMap() };
    super({ ...poolOptions, Client: clientClass(source, poolOptions, tracking) });
    this.#source = source;
    this.#onLoginRefused = onLoginRefused ?? (() => {});
    this.#refusedVersions = tracking.refused;
    this.#versions = tracking.versions;
    this.#stopWatching = source.onChange(() => this.#retireIdle());
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(
    callback: (
      err: Error | undefined,
      client: pg.PoolClient | undefined,
      done: (release?: Error | boolean) => void,
    ) => void,
  ): void;
  override connect(
    callback?: (
      err: Error | undefined,
      client: pg.PoolClient | undefined,
      done: (release?: Error | boolean) => void,
    ) => void,
  ): Promise<pg.PoolClient> | undefined {
    const checkout = this.#checkout();
    if (callback === undefined) return checkout;
    // pg's own pool.query() goes through here, in the callback style.
    checkout.then(
      (client) => callback(undefined, client, client.release),
      (error: Error) => callback(error, undefined, () => {}),
    );
    return undefined;
  }

  override end(): Promise<void>;
  override end(callback: () => void): void;
  override end(callback?: () => void): Promise<void> | undefined {
    this.#stopWatching();
    if (callback === undefined) return super.end();
    super.end(callback);
    return undefined;
  }

  async #checkout(): Promise<pg.PoolClient> {
    await this.#source.current();
    let client = await this.#connectRetryingOnce();
    // An idle connection made with an old value is not handed out: another is taken or made.
    for (let left = (this.options.max ?? 10) + 1; this.#isStale(client) && left > 0; left--) {
      client.release(RETIRED);
      client = await this.#connectRetryingOnce();
    }
    const release = client.release;
    client.release = (err?: Error | boolean) =>
      release(err ?? (this.#isStale(client) ? RETIRED : undefined));
    return client;
  }

  /** A connection from the pool; a new one whose login was refused is retried once. */
  async #connectRetryingOnce(): Promise<pg.PoolClient> {
    try {
      return await super.connect();
    } catch (error) {
      const version = this.#refusedVersions.get(error as Error);
      if (version === undefined) throw error;
      this.#onLoginRefused({ name: this.#source.name, version, error: error as Error });
      // Without an answer from Rotor there is nothing better to retry with: the refusal stands.
      await this.#source.afterAuthFailure(version).catch(() => Promise.reject(error));
      await this.#source.current();
      return super.connect();
    }
  }

  #isStale(client: pg.PoolClient): boolean {
    return this.#versions.get(client) !== this.#source.version;
  }

  /** Takes each idle connection out and closes those made with an old value. */
  #retireIdle(): void {
    if (this.ending) return;
    for (let i = this.idleCount; i > 0; i--) {
      super.connect().then(
        (client) => client.release(this.#isStale(client) ? RETIRED : undefined),
        () => {},
      );
    }
  }
}

interface ClientTracking {
  /** The version of the secret each refused login used. */
  readonly refused: WeakMap<Error, number>;
  /** The version of the secret each connection logged in with. */
  readonly versions: WeakMap<pg.ClientBase, number>;
}

/** The pool's Client: built with the latest credential, noting which version it used. */
function clientClass(
  source: CredentialSource,
  options: pg.PoolConfig,
  tracking: ClientTracking,
): new (
  config?: pg.ClientConfig,
) => pg.Client {
  return class extends pg.Client {
    readonly #version: number;

    constructor(config: pg.ClientConfig = {}) {
      const { version, credential } = source.latest();
      super({
        ...config,
        host: options.host ?? credential.host,
        port: options.port ?? credential.port,
        database: options.database ?? credential.database,
        user: credential.username,
        password: credential.password,
      });
      this.#version = version;
      tracking.versions.set(this, version);
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
    override connect(
      callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void),
    ): Promise<pg.Client> | undefined {
      const noteRefusal = (error: Error | null | undefined) => {
        const code = (error as { code?: unknown } | null | undefined)?.code;
        if (error && typeof code === 'string' && AUTH_FAILURES.has(code)) {
          tracking.refused.set(error, this.#version);
        }
      };
      if (callback === undefined) {
        return super.connect().catch((error: Error) => {
          noteRefusal(error);
          throw error;
        });
      }
      super.connect(((error: Error | null, connected: pg.Client) => {
        noteRefusal(error);
        (callback as (err: Error | null, c: pg.Client) => void)(error, connected);
      }) as (err: Error) => void);
      return undefined;
    }
  };
}
