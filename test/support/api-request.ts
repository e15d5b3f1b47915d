/** One raw HTTP exchange with a Rotor server, for tests that must see exactly what went over the wire. */
export interface RawRequest {
  readonly method?: string;
  /** Path and query, such as `/v1/secrets/prod/db:value?wait=5`, sent as written. */
  readonly path: string;
  /** Sent as `Authorization: Bearer <token>`; none when undefined. */
  readonly token?: string | undefined;
  /** Serialised as JSON with `content-type: application/json`. */
  readonly json?: unknown;
  /** Sent as it is, with whatever `headers` say. */
  readonly body?: string | Buffer | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is empty or not JSON. */
  readonly json: unknown;
}

export async function apiRequest(base: string, request: RawRequest): Promise<RawResponse> {
  const headers: Record<string, string> = { ...request.headers };
  if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
  let body = request.body;
  if (request.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(request.json);
  }
  const response = await fetch(`${base}${request.path}`, {
    method: request.method ?? 'GET',
    headers,
    body,
    signal: AbortSignal.timeout(request.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: parseJson(text) };
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The `{error: {code, message}}` body every API error has, or undefined when the body is not one. */
export function apiError(response: RawResponse): { code: string; message: string } | undefined {
  const error = (response.json as { error?: { code?: unknown; message?: unknown } } | undefined)
    ?.error;
  return typeof error?.code === 'string' && typeof error.message === 'string'
    ? { code: error.code, message: error.message }
    : undefined;
}
