import { performance } from 'node:perf_hooks';
import type { Actor } from '../audit/audit-event.js';
import { isDuration, parseDuration } from '../core/duration.js';
import { RotorError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import type { TokenRecord } from '../store/token-store.js';
import { issueToken, tokenId, tokenMatches } from './api-token.js';
import { parseTokenPolicy, type TokenPolicy } from './token-policy.js';

/** A token as shown to users: never its value or hash. */
export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly policy: TokenPolicy;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
}

export interface CreatedToken extends TokenView {
  /** Shown once: only its hash is kept. */
  readonly token: string;
}

export interface CreateTokenInput {
  readonly name?: string | undefined;
  readonly policy: unknown;
  /** A duration such as 30d; no expiry when absent. */
  readonly ttl?: string | undefined;
}

const NAME = /^[A-Za-z0-9._ -]{1,64}$/;

/** How long a token looked up in the store is trusted before it is looked up again. */
export const TOKEN_CACHE_MS = 1_000;
// Live tokens only, so this bounds memory without limiting how many tokens work.
const TOKEN_CACHE_ENTRIES = 10_000;

interface KnownToken {
  readonly record: TokenRecord;
  readonly view: TokenView;
}
interface CachedLookup {
  readonly token: Promise<KnownToken | undefined>;
  readonly fetchedAt: number;
  /** The lookup's result once it has settled, for callers that cannot wait a tick. */
  known?: KnownToken | undefined;
}

const TOKEN_ID = /^[A-Za-z0-9]{1,64}$/;
const MIN_TTL_MS = 1_000;
const MAX_TTL_MS = 3650 * 86_400_000;

/** Issues, checks and revokes API tokens. */
export class TokenService {
  readonly #store: Store;
  readonly #now: () => Date;
  readonly #cache = new Map<string, CachedLookup>();

  constructor(store: Store, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#now = now;
  }

  /**
   * The token behind a bearer value. Every refusal has the same message, so a
   * caller cannot tell an unknown id from a wrong secret, a revoked or an expired token.
   *
   * A token found in the store is trusted for up to `TOKEN_CACHE_MS` before it
   * is looked up again: a revocation through this service takes effect at
   * once, one made by another process (or the CLI on the store) within that
   * time. The presented value is hashed and compared on every request, and
   * expiry is checked against the clock every time.
   */
  async authenticate(bearer: string): Promise<TokenView> {
    const id = tokenId(bearer);
    const known = id === undefined ? undefined : await this.#lookup(id);
    if (!this.#live(bearer, known)) {
      throw new RotorError('ERR_UNAUTHENTICATED', 'missing, invalid or expired token');
    }
    return known.view;
  }

  /**
   * `authenticate` without waiting, for the API's hot path: the token when a
   * fresh cached lookup proves it live, and undefined when `authenticate` must
   * decide (a lookup is due, or the token is refused).
   */
  cachedAuthentication(bearer: string): TokenView | undefined {
    const id = tokenId(bearer);
    const cached = id === undefined ? undefined : this.#fresh(id);
    return cached && this.#live(bearer, cached.known) ? cached.known.view : undefined;
  }

  #live(bearer: string, known: KnownToken | undefined): known is KnownToken {
    return (
      known !== undefined &&
      tokenMatches(bearer, known.record.hash) &&
      known.record.revokedAt === null &&
      (known.record.expiresAt === null || known.record.expiresAt > this.#now())
    );
  }

  async create(input: CreateTokenInput, actor: Actor): Promise<CreatedToken> {
    const policy = parseTokenPolicy(input.policy);
    const name = input.name ?? 'token';
    if (!NAME.test(name)) {
      throw new RotorError(
        'ERR_INVALID_INPUT',
        'name: expected 1 to 64 letters, digits, spaces, dots, dashes or underscores',
      );
    }
    const expiresAt = input.ttl === undefined ? null : this.#expiry(input.ttl);
    const issued = issueToken();
    const record = await this.#store.tokens.create(
      { id: issued.id, hash: issued.hash, name, policy, expiresAt },
      {
        actor,
        action: 'token.create',
        details: { tokenId: issued.id, name, policy, expiresAt: expiresAt?.toISOString() ?? null },
      },
    );
    return { ...toView(record), token: issued.token };
  }

  async list(): Promise<TokenView[]> {
    const now = this.#now();
    return (await this.#store.tokens.list())
      .filter((t) => t.expiresAt === null || t.expiresAt > now)
      .map(toView);
  }

  async revoke(id: string, actor: Actor): Promise<void> {
    const revoked =
      TOKEN_ID.test(id) &&
      (await this.#store.tokens.revoke(id, {
        actor,
        action: 'token.revoke',
        details: { tokenId: id },
      }));
    this.#cache.delete(id);
    if (!revoked) {
      throw new RotorError(
        'ERR_TOKEN_NOT_FOUND',
        `no live token has the id ${JSON.stringify(id.slice(0, 64))}`,
      );
    }
  }

  #expiry(ttl: string): Date {
    const ms = ttlMs(ttl);
    // Bounded so that the expiry is a real date, and a token is not born expired.
    if (!(ms >= MIN_TTL_MS && ms <= MAX_TTL_MS)) {
      throw new RotorError(
        'ERR_INVALID_INPUT',
        `ttl: expected a duration from 1s to 3650d such as 1h, 30d or 1w (got ${JSON.stringify(ttl.slice(0, 40))})`,
      );
    }
    return new Date(this.#now().getTime() + ms);
  }

  /** The stored token with its parsed policy, from the cache while fresh. */
  #lookup(id: string): Promise<KnownToken | undefined> {
    const cached = this.#fresh(id);
    if (cached) return cached.token;
    // Concurrent requests with one token share a single lookup.
    const token = this.#store.tokens
      .find(id)
      .then((record) => record && { record, view: toView(record) });
    const lookup: CachedLookup = { token, fetchedAt: performance.now() };
    // Unknown ids and failed lookups are not remembered: the next request asks the store again.
    const forget = () => {
      if (this.#cache.get(id) === lookup) this.#cache.delete(id);
    };
    token.then((known) => {
      lookup.known = known;
      if (known === undefined) forget();
    }, forget);
    if (this.#cache.size >= TOKEN_CACHE_ENTRIES) this.#cache.clear();
    this.#cache.set(id, lookup);
    return token;
  }

  #fresh(id: string): CachedLookup | undefined {
    const cached = this.#cache.get(id);
    return cached && performance.now() - cached.fetchedAt < TOKEN_CACHE_MS ? cached : undefined;
  }
}

/** NaN for anything but a duration that fits a number of milliseconds. */
function ttlMs(ttl: string): number {
  if (!isDuration(ttl)) return Number.NaN;
  try {
    return parseDuration(ttl, 'ttl');
  } catch {
    return Number.NaN;
  }
}

function toView(record: TokenRecord): TokenView {
  return {
    id: record.id,
    name: record.name,
    policy: parseTokenPolicy(record.policy),
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
  };
}
