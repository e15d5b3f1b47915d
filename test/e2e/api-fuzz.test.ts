import { request as httpRequest, type IncomingHttpHeaders, STATUS_CODES } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERROR_CODES } from '../../src/core/errors.js';
import { apiOperations } from '../../src/server/api-server.js';
import type { Operation } from '../../src/server/operation.js';
import type { ServerServices } from '../../src/server/server-services.js';
import type { StoreDialect } from '../../src/store/store.js';
import { apiRequest } from '../support/api-request.js';
import { startTestServer, type TestServer } from '../support/rotor-server.js';
import { STORE_DIALECTS } from '../support/test-stores.js';

/**
 * Random and malformed requests at every route, sent byte for byte as
 * generated (no client normalises them): the server must never answer 5xx or
 * fall over, every client error must be `{error: {code, message}}` with the
 * status its code stands for, and a refused request must not change a
 * single row outside the audit trail.
 */

// Read for its routes only: no handler runs, so no services are needed.
const OPERATIONS = apiOperations({} as ServerServices);
/** Runs per store: PostgreSQL gets more, as it refuses input SQLite stores (NUL in text). */
const RUNS: Readonly<Record<StoreDialect, number>> = { sqlite: 400, postgres: 500 };
const VALUE_LIMIT = 64 * 1024;
const BODY_LIMIT = 1024 * 1024;

/** Tables whose rows only an accepted request may change. */
const GUARDED_TABLES = ['secrets', 'versions', 'rotations', 'tokens', 'sink_deliveries'];

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer | undefined;
}

interface Exchange {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** One request on a fresh connection, with the path exactly as given; event streams are closed once they open. */
function exchange(base: string, request: FuzzRequest): Promise<Exchange> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let answered = false;
    const outgoing = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        // Node frames a GET or DELETE body only when told its length.
        headers:
          request.body === undefined
            ? request.headers
            : { ...request.headers, 'content-length': String(request.body.length) },
        agent: false,
      },
      (response) => {
        answered = true;
        const status = response.statusCode ?? 0;
        if (String(response.headers['content-type']).startsWith('text/event-stream')) {
          response.destroy();
          resolve({ status, headers: response.headers, text: '' });
          return;
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status, headers: response.headers, text: Buffer.concat(chunks).toString() }),
        );
        response.on('error', reject);
      },
    );
    // A server refusing an oversized body may close before it is all sent: the answer is what counts.
    outgoing.on('error', (error) => {
      if (!answered) reject(error);
    });
    outgoing.setTimeout(20_000, () => outgoing.destroy(new Error('no answer within 20 s')));
    outgoing.end(request.body);
  });
}

const NAMES = ['fuzz/api', 'fuzz/pass', 'fuzz/missing', 'fuzz/deep/er/name'];

/** Percent-encodes every byte but the unreserved ones, so any text travels in a path or query. */
const percentEncoded = (text: string) =>
  Array.from(Buffer.from(text, 'utf8'), (byte) =>
    /[A-Za-z0-9._~-]/.test(String.fromCharCode(byte))
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`,
  ).join('');

const JUNK_NAMES = [
  'FUZZ/API',
  'fuzz//api',
  'fuzz/api/',
  '/fuzz/api',
  'fuzz/../api',
  'fuzz/./api',
  '..',
  '',
  'fuzz/a%00b',
  'fuzz/%ff',
  'fuzz/%2Fapi',
  'fuzz/%C3%A9t%C3%A9',
  'fuzz/api%3Avalue',
  percentEncoded('fuzz/\u00e9\u{1f511}'),
];

/** Secret names as they appear in a path: real ones, near misses, and junk that must be refused. */
const nameArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 3, arbitrary: fc.constantFrom(...JUNK_NAMES) },
  { weight: 1, arbitrary: fc.webSegment().map((s) => `fuzz/${s}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map(percentEncoded) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 200, max: 3_000 })
      .chain((n) => fc.constantFrom(`fuzz/${'a'.repeat(n)}`, `${'a/'.repeat(n)}a`)),
  },
);

/** A verb that replaces an operation's own: another operation's, or one that exists nowhere. */
const verbArb = fc.oneof(
  fc.constantFrom('', ':value', ':versions', ':put', ':verify', ':rotate', ':rollback', ':cancel'),
  fc.constantFrom(':', '::', ':value:value', ':VALUE', ':rotate/x', ':%00', ':%ff'),
  fc.webSegment().map((s) => `:${s}`),
);

const idArb = fc.oneof(
  fc.constantFrom('AbsentToken1', '%00', '%ff', '..', 'a'.repeat(300)),
  fc.webSegment(),
);

const METHODS = ['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'HEAD', 'TRACE'];

/** Query values that break naive parsers and stores: NUL, invalid UTF-8, huge numbers. */
const queryValueArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant('%00') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '%ff',
      '%C3%28',
      '..',
      '',
      '-1',
      '1e3',
      '99999999999999999999',
      'fuzz/api',
      'current',
      'done',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map(percentEncoded) },
);

const ANY_QUERY_KEYS = [
  'stage',
  'version',
  'prefix',
  'secret',
  'since',
  'limit',
  'before',
  'state',
];

/** A query string; `keys` are the ones the operation reads, tried more often than others. */
function queryArb(keys: readonly string[]): fc.Arbitrary<string> {
  const keyArb = fc.oneof(
    ...(keys.length > 0 ? [{ weight: 4, arbitrary: fc.constantFrom(...keys) }] : []),
    { weight: 1, arbitrary: fc.constantFrom(...ANY_QUERY_KEYS) },
    { weight: 1, arbitrary: fc.webSegment() },
  );
  return fc
    .array(fc.tuple(keyArb, queryValueArb), { minLength: 1, maxLength: 3 })
    .map((pairs) => `?${pairs.map(([k, v]) => `${percentEncoded(k)}=${v}`).join('&')}`);
}

function queryKeys(op: Operation): string[] {
  if (!op.query) return [];
  const schema = z.toJSONSchema(op.query, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, unknown>;
  };
  return Object.keys(schema.properties ?? {});
}

const durationArb = fc.constantFrom(
  '1s',
  '0s',
  '500ms',
  '30d',
  '36500d',
  '36501d',
  '99999999d',
  '1h30m',
  'soon',
);

/** Bodies one step from valid, per operation, so that runs reach past validation into the services. */
const NEAR_VALID: Readonly<Record<string, fc.Arbitrary<unknown>>> = {
  createSecret: fc.record(
    {
      name: fc.oneof(
        { weight: 3, arbitrary: fc.stringMatching(/^fuzz\/new-[a-z0-9]{1,8}$/) },
        { weight: 1, arbitrary: fc.constantFrom(...NAMES, ...JUNK_NAMES) },
      ),
      type: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('api-key', 'password', 'jwt-secret', 'random') },
        { weight: 1, arbitrary: fc.constantFrom('postgres', 'nope', '__proto__') },
      ),
      policy: fc.dictionary(
        fc.constantFrom('schedule', 'grace', 'checkEvery', 'jitter', 'window', 'minInterval'),
        durationArb,
        { maxKeys: 2 },
      ),
      config: fc.dictionary(
        fc.constantFrom('length', 'bytes', 'encoding', 'prefix', 'webhook', 'host'),
        fc.oneof(fc.integer({ min: -1, max: 5_000 }), fc.string({ maxLength: 12 })),
        { maxKeys: 2 },
      ),
      value: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
    },
    { requiredKeys: ['name', 'type'] },
  ),
  createToken: fc.record(
    {
      name: fc.constantFrom('ci', 'a b', '', 'x'.repeat(65)),
      policy: fc.array(
        fc.record({
          path: fc.constantFrom('**', 'fuzz/*', 'fuzz/**', 'fuzz/api', '', '/x', 'a b'),
          capabilities: fc.oneof(
            {
              weight: 4,
              arbitrary: fc.subarray(['read', 'list', 'write', 'rotate'], { minLength: 1 }),
            },
            { weight: 1, arbitrary: fc.subarray(['read', 'admin', 'root', 'READ']) },
          ),
        }),
        { maxLength: 2 },
      ),
      ttl: durationArb,
    },
    { requiredKeys: ['policy'] },
  ),
  updateSecret: fc.record(
    {
      policy: fc.dictionary(
        fc.constantFrom('schedule', 'grace', 'checkEvery', 'maxVersions', 'manual', 'sinks'),
        fc.oneof(durationArb, fc.integer({ min: -1, max: 2_000 }), fc.boolean()),
        { maxKeys: 2 },
      ),
      config: fc.dictionary(fc.constantFrom('length', 'prefix'), fc.jsonValue({ maxDepth: 0 })),
    },
    { requiredKeys: [] },
  ),
  putSecretValue: fc.record({ value: fc.string({ unit: 'grapheme', maxLength: 40 }) }),
  verifySecretValue: fc.record({ value: fc.string({ unit: 'grapheme', maxLength: 40 }) }),
  rotateSecret: fc.record({ dryRun: fc.boolean() }, { requiredKeys: [] }),
};

/** Any JSON at all, and objects with the fields the API knows holding values of the wrong kind. */
const junkJsonArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(
    fc.constantFrom('name', 'type', 'config', 'policy', 'value', 'dryRun', 'ttl', '__proto__'),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 4 },
  ),
  fc
    .integer({ min: VALUE_LIMIT + 1, max: VALUE_LIMIT + 4_096 })
    .map((n) => ({ value: 'v'.repeat(n) })),
);

interface Payload {
  readonly contentType?: string;
  readonly body?: Buffer;
}

const asJson = (json: unknown): Payload => ({
  contentType: 'application/json',
  body: Buffer.from(JSON.stringify(json) ?? 'null'),
});

function payloadArb(operationId: string | undefined): fc.Arbitrary<Payload> {
  const nearValid = NEAR_VALID[operationId ?? ''];
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant({}) },
    ...(nearValid
      ? [
          { weight: 6, arbitrary: nearValid.map(asJson) },
          // The same with one field too many.
          {
            weight: 1,
            arbitrary: fc
              .tuple(nearValid, fc.webSegment(), fc.jsonValue({ maxDepth: 1 }))
              .map(([json, key, value]) => asJson({ ...(json as object), [`x${key}`]: value })),
          },
        ]
      : []),
    { weight: 3, arbitrary: junkJsonArb.map(asJson) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            '',
            '{',
            '{"name":',
            '[1,',
            'nul',
            '{"a":1}}',
            '\u0000',
            '{"__proto__":1}',
          ),
          fc.string({ maxLength: 60 }),
        )
        .map((text) => ({ contentType: 'application/json', body: Buffer.from(text) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/octet-stream',
            'application/jsonx',
            'application/json; charset=utf-16',
            '',
          ),
          nearValid ?? junkJsonArb,
        )
        .map(([contentType, json]) => ({ ...asJson(json), contentType })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(BODY_LIMIT + 1, BODY_LIMIT + 100_000)
        .map((n) => asJson({ value: 'v'.repeat(n) })),
    },
  );
}

const TOKEN_KINDS = ['admin', 'reader', 'none', 'garbage'] as const;
const tokenArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant('admin' as const) },
  { weight: 2, arbitrary: fc.constantFrom(...TOKEN_KINDS) },
);

/** Headers some operations read: resuming an event stream, a conditional read of a value. */
const extraHeadersArb = fc.record(
  {
    'last-event-id': fc.constantFrom('', '0', '5', '-1', 'abc', '1e400', '99999999999999999999'),
    'if-none-match': fc.constantFrom('"1"', '"2"', '*', 'W/"1"', '"', ''),
  },
  { requiredKeys: [] },
);

/** A request at an operation of the table: its method and parameters mostly, something near them sometimes. */
const operationRequestArb = fc.constantFrom(...OPERATIONS).chain((op) =>
  fc.record({
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constant(op.method) },
      { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
    ),
    route: fc
      .record({
        name: nameArb,
        id: idArb,
        verb: fc.oneof(
          { weight: 4, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: verbArb },
        ),
      })
      .map(({ name, id, verb }) =>
        op.path
          .replace(
            /\{name\}(:\w+)?$/,
            (_all, own: string | undefined) => name + (verb ?? own ?? ''),
          )
          .replace('{id}', id),
      ),
    query: fc.oneof(fc.constant(''), queryArb(queryKeys(op))),
    token: tokenArb,
    extra: extraHeadersArb,
    payload: payloadArb(op.id),
  }),
);

/** A request anywhere: random paths under the API's prefixes and the server's own pages. */
const strayRequestArb = fc.record({
  method: fc.constantFrom(...METHODS),
  route: fc.oneof(
    fc
      .tuple(fc.constantFrom('/v1/secrets/', '/v1/tokens/', '/v1/', '/', '/docs/'), fc.webPath())
      .map(([prefix, rest]) => `${prefix}${rest.replace(/^\//, '')}`),
    fc.constantFrom('/healthz', '/readyz', '/metrics', '/docs/json', '/docs'),
  ),
  query: fc.oneof(fc.constant(''), queryArb([])),
  token: tokenArb,
  extra: extraHeadersArb,
  payload: payloadArb(undefined),
});

const requestArb = fc.oneof(
  { weight: 5, arbitrary: operationRequestArb },
  { weight: 1, arbitrary: strayRequestArb },
);

describe.each<StoreDialect>(STORE_DIALECTS)('API fuzz (%s store)', (dialect) => {
  let server: TestServer;
  let reader: string;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    for (const [name, type] of [
      ['fuzz/api', 'api-key'],
      ['fuzz/pass', 'password'],
      ['fuzz/deep/er/name', 'random'],
    ]) {
      const created = await apiRequest(server.url, {
        method: 'POST',
        path: '/v1/secrets',
        token: server.adminToken,
        json: { name, type },
      });
      expect(created.status).toBe(201);
    }
    const token = await apiRequest(server.url, {
      method: 'POST',
      path: '/v1/tokens',
      token: server.adminToken,
      json: { policy: [{ path: 'fuzz/**', capabilities: ['read', 'list'] }] },
    });
    reader = (token.json as { token: string }).token;
  });

  afterAll(async () => {
    await server?.close();
  });

  async function guardedRows(): Promise<string> {
    const tables: Record<string, unknown> = {};
    if (dialect === 'postgres') {
      // One statement, so one connection per snapshot.
      const columns = GUARDED_TABLES.map(
        (t) => `(select coalesce(json_agg(x order by x::text), '[]') from ${t} x) as ${t}`,
      );
      Object.assign(tables, (await server.location.query(`select ${columns.join(', ')}`))[0]);
    } else {
      for (const table of GUARDED_TABLES) {
        tables[table] = await server.location.query(`select * from ${table} order by 1`);
      }
    }
    return JSON.stringify(tables, (_key, value: unknown) =>
      Buffer.isBuffer(value) ? value.toString('base64') : value,
    );
  }

  it('answers every request below 500, in the error shape, and writes nothing it refuses', async () => {
    const seen = new Map<number, number>();
    let rows = await guardedRows();
    await fc.assert(
      fc.asyncProperty(requestArb, async ({ method, route, query, token, extra, payload }) => {
        // A conditional read may wait for a change as long as `wait` says: not in a fuzz run.
        const { 'if-none-match': ifNoneMatch, ...headers }: Record<string, string> = extra;
        if (ifNoneMatch !== undefined && !query.includes('wait='))
          headers['if-none-match'] = ifNoneMatch;
        if (token === 'admin') headers.authorization = `Bearer ${server.adminToken}`;
        if (token === 'reader') headers.authorization = `Bearer ${reader}`;
        if (token === 'garbage') headers.authorization = 'Bearer rtk_garbage';
        if (payload.contentType !== undefined) headers['content-type'] = payload.contentType;
        const path = `${route}${query}`;
        const response = await exchange(server.url, {
          method,
          path,
          headers,
          body: payload.body,
        });
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        const what = `${method} ${path.slice(0, 200)} (${token}, ${payload.contentType}): ${response.status} ${response.text.slice(0, 300)}`;
        // Taken before any check, so that a failing run leaves the next one the true rows.
        const before = rows;
        rows = await guardedRows();
        expect(response.status, what).toBeLessThan(500);
        if (response.status >= 400) {
          if (method !== 'HEAD') {
            const error = (
              JSON.parse(response.text) as { error: { code: string; message: string } }
            ).error;
            expect(Object.keys(error).sort(), what).toEqual(['code', 'message']);
            expect(error.message.length, what).toBeGreaterThan(0);
            const known = ERROR_CODES[error.code as keyof typeof ERROR_CODES];
            expect(known?.http, `${what}: the code must stand for the status`).toBe(
              response.status,
            );
          }
          expect(rows, `${what}: a refused request changed rows`).toBe(before);
        }
      }),
      // Shrinking a failure against a live server can be slow: report what was found by then.
      { numRuns: RUNS[dialect], interruptAfterTimeLimit: 100_000 },
    );
    // The runs reached past validation, and were refused in several ways.
    expect([...seen.keys()].filter((s) => s < 300).length).toBeGreaterThan(0);
    expect([...seen.keys()].filter((s) => s >= 400).length).toBeGreaterThan(3);
    const health = await apiRequest(server.url, { path: '/healthz' });
    expect(health.status).toBe(200);
    const ready = await apiRequest(server.url, { path: '/readyz' });
    expect(ready.status).toBe(200);
  }, 150_000);

  it.each([
    ['not HTTP at all', 'GARBAGE\r\n\r\n', 400, 'ERR_INVALID_INPUT'],
    [
      'a header line without a colon',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nBroken\r\n\r\n',
      400,
      'ERR_INVALID_INPUT',
    ],
    [
      'conflicting body lengths',
      'POST /v1/secrets HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}',
      400,
      'ERR_INVALID_INPUT',
    ],
    [
      'headers over 16 KiB',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'ERR_HEADERS_TOO_LARGE',
    ],
  ])('answers %s in the error shape and stays up', async (_what, bytes, status, code) => {
    const answer = await rawHttp(server.url, bytes);
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${STATUS_CODES[status]}`);
    expect(JSON.parse(body)).toEqual({ error: { code, message: expect.any(String) } });
    expect((await apiRequest(server.url, { path: '/healthz' })).status).toBe(200);
  });
});

/** Writes bytes on a fresh connection and returns everything the server sends before closing. */
function rawHttp(base: string, bytes: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server closes as soon as it has answered; the rest of a long request may bounce.
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.end(bytes);
  });
}
