import { ApiClient, type ApiResponse, secretPath } from './api-client.js';
import type { RotorApiError } from './api-error.js';
import { EventStream, type RotorEvent } from './event-stream.js';

export interface RotorClientOptions {
  /** The server's base URL, such as http://127.0.0.1:8200. */
  readonly url: string;
  /** An API token with `read` on the secrets the application uses, and `list` to hear of rotations. */
  readonly token: string;
  /** How long a value is served from memory without asking the server; default 30 s. */
  readonly ttlMs?: number;
  /**
   * Past the TTL a value is still served at once while it is revalidated in
   * the background, up to this age; beyond it `get` waits for the server. Default 5 min.
   */
  readonly maxStaleMs?: number;
  /** Follow the server's event stream to refresh values as soon as they rotate; default true. */
  readonly events?: boolean;
  /** Per request; default 30 s. */
  readonly timeoutMs?: number;
  /** Failures of background work (revalidation, the event stream); by default they are dropped. */
  readonly onError?: (error: RotorApiError) => void;
}

/** A secret's value as the application sees it. */
export interface SecretEntry {
  readonly name: string;
  readonly version: number;
  readonly value: string;
  /** `current`, and `previous` or `pending` when read by stage. */
  readonly stages: readonly string[];
  readonly createdAt: string;
}

/** The answer of {@link RotorClient.verify}. */
export interface VerifyResult {
  readonly valid: boolean;
  /** The stage of the matching version (`current`, `previous`...), or null. */
  readonly stage: string | null;
}

export type { RotorEvent };

/** Events after which the current value (or the set of valid ones) may differ. */
const VALUE_EVENTS: ReadonlySet<string> = new Set([
  'rotation.promoted',
  'rollback.promoted',
  'secret.updated',
  'rotation.retired',
]);

const DEFAULT_TTL_MS = 30_000;
const DEFAULT_MAX_STALE_MS = 300_000;

interface CachedEntry {
  readonly entry: SecretEntry;
  readonly etag: string;
  fetchedAt: number;
}

interface Flight {
  readonly promise: Promise<SecretEntry>;
  /** An event arrived after this request left: its answer may predate the change. */
  superseded: boolean;
}

/**
 * The application's view of Rotor: values read once and served from memory,
 * revalidated in the background once their TTL has passed, and refreshed as
 * soon as the server announces a rotation on its event stream. Create it with
 * {@link createClient}; {@link RotorClient.close} releases every connection.
 *
 * @example
 * ```ts
 * const rotor = createClient({ url: 'http://127.0.0.1:8200', token: process.env.ROTOR_TOKEN });
 * const { value } = await rotor.get('prod/api/stripe');
 * rotor.watch('prod/api/stripe', (entry) => stripe.setApiKey(entry.value));
 * ```
 */
export class RotorClient {
  readonly #api: ApiClient;
  readonly #ttlMs: number;
  readonly #maxStaleMs: number;
  readonly #onError: (error: RotorApiError) => void;
  readonly #cache = new Map<string, CachedEntry>();
  readonly #flights = new Map<string, Flight>();
  readonly #watchers = new Map<string, Set<(entry: SecretEntry) => void>>();
  readonly #rotateHooks = new Set<(event: RotorEvent) => void>();
  readonly #closing = new AbortController();
  readonly #stream: EventStream | undefined;
  readonly #subscribed: Promise<void>;
  #markSubscribed: () => void = () => {};

  constructor(options: RotorClientOptions) {
    validateOptions(options);
    this.#api = new ApiClient(options);
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.#maxStaleMs = Math.max(options.maxStaleMs ?? DEFAULT_MAX_STALE_MS, this.#ttlMs);
    this.#onError = options.onError ?? noop;
    this.#subscribed = new Promise((resolve) => {
      this.#markSubscribed = resolve;
    });
    if (options.events !== false) {
      this.#stream = new EventStream(this.#api, {
        onEvent: (event) => this.#onEvent(event),
        onOpen: (resumed) => this.#onStreamOpen(resumed),
        onError: (error) => this.#report(error),
      });
    }
  }

  /**
   * The current value of a secret: from memory while fresh, from the server
   * otherwise (see {@link RotorClientOptions.ttlMs} and `maxStaleMs`). Throws
   * a {@link RotorApiError} (`ERR_FORBIDDEN`, `ERR_SECRET_NOT_FOUND`, `ERR_REMOTE`...).
   */
  async get(name: string): Promise<SecretEntry> {
    this.#assertOpen();
    this.#follow();
    const cached = this.#cache.get(name);
    if (cached === undefined) return this.#revalidate(name);
    const age = performance.now() - cached.fetchedAt;
    if (age < this.#ttlMs) return cached.entry;
    if (age < this.#maxStaleMs) {
      this.#revalidate(name).catch((error: RotorApiError) => this.#report(error));
      return cached.entry;
    }
    return this.#revalidate(name);
  }

  /** Asks the server now (a conditional request when the value is cached) and returns the current value. */
  async refresh(name: string): Promise<SecretEntry> {
    this.#assertOpen();
    this.#follow();
    this.#supersede(name);
    return this.#revalidate(name);
  }

  /**
   * One value read from the server, bypassing the cache: the version in a
   * stage (`previous`, `pending`) or a version number. Every read is audited.
   */
  async read(
    name: string,
    selector: { readonly stage?: 'current' | 'previous' | 'pending'; readonly version?: number },
  ): Promise<SecretEntry> {
    this.#assertOpen();
    const { body } = await this.#api.request<SecretEntry>('GET', secretPath(name, 'value'), {
      query: { stage: selector.stage, version: selector.version },
      signal: this.#closing.signal,
    });
    return entryOf(body);
  }

  /**
   * Calls `callback` with the current value of `name` once it is known, then
   * with the new value each time it changes (a rotation, a rollback, a put),
   * as soon as the event stream announces it (or a revalidation finds it).
   * Each version is delivered once. Returns the function that stops watching.
   */
  watch(name: string, callback: (entry: SecretEntry) => void): () => void {
    this.#assertOpen();
    this.#follow();
    let callbacks = this.#watchers.get(name);
    if (callbacks === undefined) {
      callbacks = new Set();
      this.#watchers.set(name, callbacks);
    }
    // Each version once, in order: the first value may be read while a change is announced.
    let delivered: number | undefined;
    const deliver = (entry: SecretEntry) => {
      if (entry.version === delivered) return;
      delivered = entry.version;
      callback(entry);
    };
    callbacks.add(deliver);
    const cached = this.#cache.get(name);
    const first = cached === undefined ? this.#revalidate(name) : Promise.resolve(cached.entry);
    first.then(
      (entry) => {
        if (delivered === undefined && callbacks.has(deliver)) callSafely(() => deliver(entry));
      },
      (error: RotorApiError) => this.#report(error),
    );
    return () => {
      callbacks.delete(deliver);
      if (callbacks.size === 0 && this.#watchers.get(name) === callbacks) {
        this.#watchers.delete(name);
      }
    };
  }

  /**
   * Calls `hook` for every rotation, rollback, put or retirement the event
   * stream announces for a secret the token may list; for a secret this client
   * holds, after its cached value was refreshed. Returns the function that removes the hook.
   */
  onRotate(hook: (event: RotorEvent) => void): () => void {
    this.#assertOpen();
    this.#follow();
    this.#rotateHooks.add(hook);
    return () => this.#rotateHooks.delete(hook);
  }

  /** Whether `presented` is a valid value of `name` now (current, or previous within grace). */
  async verify(name: string, presented: string): Promise<VerifyResult> {
    this.#assertOpen();
    const { body } = await this.#api.request<VerifyResult>('POST', secretPath(name, 'verify'), {
      body: { value: presented },
      signal: this.#closing.signal,
    });
    return { valid: body.valid, stage: body.stage };
  }

  /**
   * Resolves once the event stream is open, from when rotations refresh the
   * cache at once. Rejects for a client created with `events: false`.
   */
  subscribed(): Promise<void> {
    if (this.#stream === undefined) {
      return Promise.reject(new Error('this Rotor client was created with events: false'));
    }
    this.#follow();
    return this.#subscribed;
  }

  /** Stops the event stream and requests in flight; the client cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    await this.#stream?.stop();
    this.#watchers.clear();
    this.#rotateHooks.clear();
    this.#cache.clear();
  }

  #follow(): void {
    this.#stream?.start();
  }

  #report(error: RotorApiError): void {
    if (!this.#closing.signal.aborted) this.#onError(error);
  }

  #assertOpen(): void {
    if (this.#closing.signal.aborted) throw new Error('this Rotor client is closed');
  }

  /** One request at a time per name; a request that an event superseded is followed by another. */
  #revalidate(name: string): Promise<SecretEntry> {
    const flight = this.#flights.get(name);
    if (flight !== undefined && !flight.superseded) return flight.promise;
    const after = flight === undefined ? Promise.resolve() : flight.promise.then(noop, noop);
    const next: Flight = { superseded: false, promise: after.then(() => this.#fetch(name)) };
    this.#flights.set(name, next);
    next.promise
      .finally(() => {
        if (this.#flights.get(name) === next) this.#flights.delete(name);
      })
      .catch(noop);
    return next.promise;
  }

  #supersede(name: string): void {
    const flight = this.#flights.get(name);
    if (flight !== undefined) flight.superseded = true;
  }

  async #fetch(name: string): Promise<SecretEntry> {
    const cached = this.#cache.get(name);
    let response: ApiResponse<SecretEntry>;
    try {
      response = await this.#api.request<SecretEntry>('GET', secretPath(name, 'value'), {
        headers: cached === undefined ? undefined : { 'if-none-match': cached.etag },
        signal: this.#closing.signal,
      });
    } catch (error) {
      if ((error as RotorApiError).code === 'ERR_SECRET_NOT_FOUND') this.#cache.delete(name);
      throw error;
    }
    const now = performance.now();
    if (response.status === 304 && cached !== undefined) {
      cached.fetchedAt = now;
      return cached.entry;
    }
    const entry = entryOf(response.body);
    if (this.#closing.signal.aborted) return entry;
    this.#cache.set(name, { entry, etag: response.etag ?? `"${entry.version}"`, fetchedAt: now });
    if (cached !== undefined && cached.entry.version !== entry.version) this.#changed(entry);
    return entry;
  }

  #changed(entry: SecretEntry): void {
    for (const callback of [...(this.#watchers.get(entry.name) ?? [])]) {
      callSafely(() => callback(entry));
    }
  }

  #onEvent(event: RotorEvent): void {
    if (event.event === 'secret.deleted') {
      this.#cache.delete(event.name);
      return;
    }
    if (!VALUE_EVENTS.has(event.event)) return;
    const held = this.#cache.has(event.name) || this.#watchers.has(event.name);
    const refreshed = held ? this.#refreshAfterEvent(event.name) : Promise.resolve();
    void refreshed.then(() => {
      for (const hook of [...this.#rotateHooks]) callSafely(() => hook(event));
    });
  }

  async #refreshAfterEvent(name: string): Promise<void> {
    this.#supersede(name);
    await this.#revalidate(name).catch((error: RotorApiError) => this.#report(error));
  }

  #onStreamOpen(resumed: boolean): void {
    this.#markSubscribed();
    if (resumed) return;
    // Changes made while no stream was open were never announced: check every value held.
    for (const name of new Set([...this.#cache.keys(), ...this.#watchers.keys()])) {
      void this.#refreshAfterEvent(name);
    }
  }
}

/** A {@link RotorClient}; options are checked at once. */
export function createClient(options: RotorClientOptions): RotorClient {
  return new RotorClient(options);
}

function validateOptions(options: RotorClientOptions): void {
  if (typeof options.url !== 'string' || !URL.canParse(options.url)) {
    throw new TypeError(
      'Expected `url` to be the Rotor server URL, such as http://127.0.0.1:8200.',
    );
  }
  if (typeof options.token !== 'string' || options.token === '') {
    throw new TypeError('Expected `token` to be a Rotor API token.');
  }
  for (const key of ['ttlMs', 'maxStaleMs', 'timeoutMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new TypeError(`Expected \`${key}\` to be a non-negative number of milliseconds.`);
    }
  }
}

function entryOf(body: SecretEntry): SecretEntry {
  return {
    name: body.name,
    version: body.version,
    value: body.value,
    stages: body.stages,
    createdAt: body.createdAt,
  };
}

function callSafely(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    // A failing application callback must not stop the others nor the event stream.
    queueMicrotask(() => {
      throw error;
    });
  }
}

function noop(): void {}
