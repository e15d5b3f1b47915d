import { RotorApiError } from './api-error.js';

export interface ApiClientOptions {
  /** The server's base URL, such as http://127.0.0.1:8200. */
  readonly url: string;
  readonly token: string;
  /** Per request; default 30 s. */
  readonly timeoutMs?: number;
}

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
  readonly etag: string | undefined;
}

type Query = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * The Rotor HTTP API at its lowest level: one authenticated JSON request, an
 * error answer turned into a {@link RotorApiError}. No dependency beyond
 * Node's fetch, so applications can use it without the server's packages.
 */
export class ApiClient {
  readonly #base: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(options: ApiClientOptions) {
    this.#base = options.url.replace(/\/+$/, '');
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The URL of `path` (such as `/v1/secrets/prod/db:value`) with its query. */
  url(path: string, query: Query = {}): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) params.set(key, String(value));
    }
    const search = params.toString();
    return `${this.#base}${path}${search ? `?${search}` : ''}`;
  }

  get authorization(): string {
    return `Bearer ${this.#token}`;
  }

  async request<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    options: {
      query?: Query;
      body?: unknown;
      headers?: Readonly<Record<string, string>>;
      timeoutMs?: number;
      /** Aborts the request early (its timeout still applies). */
      signal?: AbortSignal;
    } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {
      authorization: this.authorization,
      ...options.headers,
    };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.url(path, options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: requestSignal(options.timeoutMs ?? this.#timeoutMs, options.signal),
      });
    } catch (error) {
      throw new RotorApiError(
        'ERR_REMOTE',
        0,
        `cannot reach Rotor at ${this.#base}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const etag = response.headers.get('etag') ?? undefined;
    if (response.status === 204 || response.status === 304) {
      await response.body?.cancel();
      return { status: response.status, body: undefined as T, etag };
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new RotorApiError(
        'ERR_REMOTE',
        response.status,
        `Rotor at ${this.#base} answered ${response.status} with a body that is not JSON`,
      );
    }
    if (!response.ok) {
      const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new RotorApiError(
        error?.code ?? 'ERR_REMOTE',
        response.status,
        error?.message ?? `Rotor answered ${response.status}`,
      );
    }
    return { status: response.status, body: body as T, etag };
  }
}

function requestSignal(timeoutMs: number, signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
}

/** The API path of a secret, with an optional `:verb`; names keep their `/`. */
export function secretPath(name: string, verb?: string): string {
  const encoded = name.split('/').map(encodeURIComponent).join('/');
  return `/v1/secrets/${encoded}${verb ? `:${verb}` : ''}`;
}
