import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiOperations } from '../../src/server/api-server.js';
import type { ServerServices } from '../../src/server/server-services.js';
import { apiError, apiRequest, type RawRequest, type RawResponse } from '../support/api-request.js';
import { startTestServer, type TestServer } from '../support/rotor-server.js';

/**
 * What the HTTP API promises beyond access control: events pushed within a
 * second and replayed after a reconnect, long-polled reads, size limits,
 * rate limiting, health, metrics, the OpenAPI document, and the behaviour of
 * each operation on secrets and tokens.
 */

interface RotorEvent {
  seq: number;
  event: string;
  name: string;
  version: number | null;
  at: string;
}

interface Outcome {
  name: string;
  result: string;
  fromVersion: number;
  toVersion: number | null;
}

let server: TestServer;
let created = 0;

/** A name no other test of this file uses. */
function uniqueName(label: string): string {
  created += 1;
  return `beh/${label}-${created}`;
}

async function call(request: RawRequest & { token?: string }): Promise<RawResponse> {
  return apiRequest(server.url, { token: server.adminToken, ...request });
}

async function expectStatus(request: RawRequest, status: number): Promise<RawResponse> {
  const response = await call(request);
  expect(response.status, `${request.method ?? 'GET'} ${request.path}: ${response.text}`).toBe(
    status,
  );
  return response;
}

async function createSecret(
  name: string,
  body: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const response = await expectStatus(
    { method: 'POST', path: '/v1/secrets', json: { name, type: 'api-key', ...body } },
    201,
  );
  return response.json as Record<string, unknown>;
}

async function rotate(name: string): Promise<Outcome> {
  const response = await expectStatus({ method: 'POST', path: `/v1/secrets/${name}:rotate` }, 200);
  const outcome = response.json as Outcome;
  expect(outcome.result).toBe('promoted');
  return outcome;
}

async function currentValue(name: string): Promise<{ value: string; version: number }> {
  return (await expectStatus({ path: `/v1/secrets/${name}:value` }, 200)).json as {
    value: string;
    version: number;
  };
}

/** An open `GET /v1/events`, parsed as events arrive, each stamped with when it arrived. */
class EventStream {
  readonly received: Array<RotorEvent & { arrivedAt: number; id: string }> = [];
  readonly #abort = new AbortController();
  #done: Promise<void> = Promise.resolve();

  static async open(
    query: string,
    headers: Record<string, string> = {},
    token = server.adminToken,
  ): Promise<EventStream> {
    const stream = new EventStream();
    const response = await fetch(`${server.url}/v1/events${query}`, {
      headers: { authorization: `Bearer ${token}`, ...headers },
      signal: stream.#abort.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    stream.#done = stream.#read(response.body as ReadableStream<Uint8Array>);
    return stream;
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((line) => !line.startsWith(':'))
              .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
          );
          if (fields.data === undefined) continue;
          const data = JSON.parse(fields.data) as RotorEvent;
          expect(fields.event).toBe(data.event);
          this.received.push({ ...data, id: fields.id as string, arrivedAt: Date.now() });
        }
      }
    } catch (error) {
      if (!this.#abort.signal.aborted) throw error;
    }
  }

  async waitFor(
    match: (event: RotorEvent) => boolean,
    timeoutMs = 5_000,
  ): Promise<RotorEvent & { arrivedAt: number; id: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs} ms`);
      await sleep(5);
    }
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

describe('events (Server-Sent Events)', () => {
  it('pushes rotation.promoted within a second of the rotation, without polling', async () => {
    const name = uniqueName('pushed');
    await createSecret(name);
    const stream = await EventStream.open(`?secret=${name}`);
    try {
      const started = Date.now();
      const outcome = await rotate(name);
      const promoted = await stream.waitFor(
        (e) => e.event === 'rotation.promoted' && e.name === name,
      );
      expect(promoted.version).toBe(outcome.toVersion);
      expect(promoted.arrivedAt - Date.parse(promoted.at)).toBeLessThan(1_000);
      expect(promoted.arrivedAt - started).toBeLessThan(1_000);
      expect(promoted.id).toBe(String(promoted.seq));
      // Names and versions only: no value ever travels on the stream.
      expect(Object.keys(promoted).sort()).toEqual(
        ['arrivedAt', 'at', 'event', 'id', 'name', 'seq', 'version'].sort(),
      );
    } finally {
      await stream.close();
    }
  });

  it('replays what a client missed after Last-Event-ID, in order and once', async () => {
    const name = uniqueName('resumed');
    await createSecret(name);
    const first = await EventStream.open(`?secret=${name}`);
    await rotate(name);
    const seen = await first.waitFor((e) => e.event === 'rotation.promoted');
    await first.close();

    // Two rotations while disconnected.
    const missed = [await rotate(name), await rotate(name)];
    const resumed = await EventStream.open(`?secret=${name}`, { 'last-event-id': seen.id });
    try {
      const last = missed[1] as Outcome;
      await resumed.waitFor((e) => e.event === 'rotation.promoted' && e.version === last.toVersion);
      const promotedVersions = resumed.received
        .filter((e) => e.event === 'rotation.promoted')
        .map((e) => e.version);
      expect(promotedVersions).toEqual(missed.map((o) => o.toVersion));
      const seqs = resumed.received.map((e) => e.seq);
      expect(seqs.every((seq) => seq > seen.seq)).toBe(true);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(seqs.length);

      // And live events keep coming after the replay.
      const live = await rotate(name);
      await resumed.waitFor((e) => e.event === 'rotation.promoted' && e.version === live.toVersion);
    } finally {
      await resumed.close();
    }

    // `since` does the same for clients that cannot send the header.
    const fromQuery = await EventStream.open(`?secret=${name}&since=${seen.seq}`);
    try {
      await fromQuery.waitFor((e) => e.event === 'rotation.promoted' && e.version === 5);
      expect(
        fromQuery.received.filter((e) => e.event === 'rotation.promoted').map((e) => e.version),
      ).toEqual([3, 4, 5]);
    } finally {
      await fromQuery.close();
    }
  });

  it('shows a token only the events of secrets it may list', async () => {
    const visible = uniqueName('visible');
    const hidden = `hidden/${visible.slice('beh/'.length)}`;
    await createSecret(visible);
    await createSecret(hidden);
    const token = await createToken([{ path: 'beh/*', capabilities: ['list'] }]);
    const stream = await EventStream.open('', {}, token.token);
    try {
      await rotate(hidden);
      await rotate(visible);
      await stream.waitFor((e) => e.event === 'rotation.promoted' && e.name === visible);
      expect(stream.received.filter((e) => e.name === hidden)).toEqual([]);
    } finally {
      await stream.close();
    }
  });

  it('refuses a Last-Event-ID that is not a sequence number', async () => {
    const response = await call({ path: '/v1/events', headers: { 'last-event-id': '-1e400' } });
    expect(response.status).toBe(400);
    expect(apiError(response)?.message).toMatch(/^Last-Event-ID: /);
  });
});

describe('long-polled reads', () => {
  it('answers 304 at once while the ETag still matches, and after `wait` when nothing changes', async () => {
    const name = uniqueName('unchanged');
    await createSecret(name);
    const read = await expectStatus({ path: `/v1/secrets/${name}:value` }, 200);
    const etag = read.headers.get('etag') as string;
    expect(etag).toBe('"1"');
    const unchanged = await call({
      path: `/v1/secrets/${name}:value`,
      headers: { 'if-none-match': etag },
    });
    expect(unchanged.status).toBe(304);
    expect(unchanged.text).toBe('');
    const started = Date.now();
    const waited = await call({
      path: `/v1/secrets/${name}:value?wait=1`,
      headers: { 'if-none-match': etag },
    });
    expect(waited.status).toBe(304);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    // A stale ETag gets the value at once.
    const stale = await call({
      path: `/v1/secrets/${name}:value?wait=5`,
      headers: { 'if-none-match': '"0"' },
    });
    expect(stale.status).toBe(200);
  });

  it('returns the new version promptly when another request rotates while it waits', async () => {
    const name = uniqueName('long-poll');
    await createSecret(name);
    const before = await currentValue(name);
    const started = Date.now();
    const polling = call({
      path: `/v1/secrets/${name}:value?wait=5`,
      headers: { 'if-none-match': `"${before.version}"` },
    });
    await sleep(300);
    const outcome = await rotate(name);
    const rotatedAt = Date.now();
    const answer = await polling;
    const answeredAt = Date.now();
    expect(answer.status).toBe(200);
    const body = answer.json as { version: number; value: string };
    expect(body.version).toBe(outcome.toVersion);
    expect(body.value).not.toBe(before.value);
    expect(answer.headers.get('etag')).toBe(`"${outcome.toVersion}"`);
    expect(answeredAt - started).toBeGreaterThanOrEqual(300);
    expect(answeredAt - rotatedAt).toBeLessThan(1_000);
  });
});

describe('limits', () => {
  it('refuses a body over 1 MiB with 413', async () => {
    const name = uniqueName('huge');
    await createSecret(name);
    const response = await call({
      method: 'POST',
      path: `/v1/secrets/${name}:put`,
      json: { value: 'v'.repeat(1024 * 1024 + 1) },
    });
    expect(response.status).toBe(413);
    expect(apiError(response)?.code).toBe('ERR_BODY_TOO_LARGE');
    expect((await currentValue(name)).version).toBe(1);
  });

  it.each([
    ['characters', 'v'.repeat(64 * 1024 + 1)],
    // Under the limit in characters, over it in bytes.
    ['UTF-8 bytes', '\u20ac'.repeat(30_000)],
  ])('refuses a value over 64 KiB (%s) with 400 naming value', async (_unit, value) => {
    const name = uniqueName('big-value');
    await createSecret(name);
    const put = await call({ method: 'POST', path: `/v1/secrets/${name}:put`, json: { value } });
    expect(put.status).toBe(400);
    expect(apiError(put)?.message).toMatch(/^body: value: expected at most 65536 bytes|^value: /);
    const create = await call({
      method: 'POST',
      path: '/v1/secrets',
      json: { name: uniqueName('big-create'), type: 'api-key', value },
    });
    expect(create.status).toBe(400);
    expect(apiError(create)?.message).toMatch(/value: expected at most 65536 bytes/);
    expect((await currentValue(name)).version).toBe(1);
  });

  it('accepts a value of exactly 64 KiB', async () => {
    const name = uniqueName('max-value');
    await createSecret(name);
    await expectStatus(
      { method: 'POST', path: `/v1/secrets/${name}:put`, json: { value: 'v'.repeat(64 * 1024) } },
      201,
    );
  });

  it('audits requests refused before they reach their operation, under their token', async () => {
    const name = uniqueName('refused-early');
    await createSecret(name);
    const adminId = server.adminToken.split('_')[1];
    const refusals: Array<[RawRequest, number]> = [
      [
        { method: 'POST', path: `/v1/secrets/${name}:put`, json: { value: 'v'.repeat(1_100_000) } },
        413,
      ],
      [
        {
          method: 'POST',
          path: `/v1/secrets/${name}:put`,
          body: '{"value":',
          headers: { 'content-type': 'application/json' },
        },
        400,
      ],
      [
        {
          method: 'POST',
          path: `/v1/secrets/${name}:put`,
          body: 'value',
          headers: { 'content-type': 'text/plain' },
        },
        415,
      ],
    ];
    for (const [request, status] of refusals) {
      const response = await call(request);
      expect(response.status).toBe(status);
      const newest = (await expectStatus({ path: `/v1/audit?secret=${name}&limit=1` }, 200))
        .json as Array<{ actor: string; action: string; details: unknown }>;
      expect(newest).toHaveLength(1);
      expect(newest[0]).toMatchObject({
        actor: adminId,
        action: 'api.request',
        details: { operation: 'putSecretValue', status },
      });
    }
    const anonymous = await call({
      ...(refusals[0] as [RawRequest, number])[0],
      token: 'rtk_wrong',
    });
    expect(anonymous.status).toBe(413);
    const newest = (await expectStatus({ path: `/v1/audit?secret=${name}&limit=1` }, 200))
      .json as Array<{ actor: string }>;
    expect(newest[0]?.actor).toBe('anonymous');
  });

  it('refuses unknown fields and names them', async () => {
    const response = await call({
      method: 'POST',
      path: '/v1/secrets',
      json: { name: uniqueName('unknown'), type: 'api-key', colour: 'blue' },
    });
    expect(response.status).toBe(400);
    expect(apiError(response)?.message).toBe(
      'body: unknown field "colour"; accepted: name, type, config, policy, value',
    );
  });

  it('answers 429 with Retry-After after repeated refused tokens from one address', async () => {
    const limited = await startTestServer({ authFailuresPerMinute: 3 });
    try {
      const send = (token: string) =>
        apiRequest(limited.url, { path: '/v1/secrets', token, timeoutMs: 5_000 });
      for (let i = 0; i < 3; i++) expect((await send('rtk_wrong')).status).toBe(401);
      const refused = await send('rtk_wrong');
      expect(refused.status).toBe(429);
      expect(apiError(refused)?.code).toBe('ERR_RATE_LIMITED');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // The address is held back whatever it sends, until old failures age out.
      expect((await send(limited.adminToken)).status).toBe(429);
      // Requests with no token at all are refused as well, but do not count.
      expect((await apiRequest(limited.url, { path: '/healthz' })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('unknown routes', () => {
  it('audits a request for no route, and holds back a scan of them without a token', async () => {
    const scanned = await startTestServer({ authFailuresPerMinute: 3 });
    try {
      const adminId = scanned.adminToken.split('_')[1];
      const send = (request: RawRequest) =>
        apiRequest(scanned.url, { timeoutMs: 5_000, ...request });
      // The newest `count` events, oldest first, before the listing request's own.
      const newest = async (count: number) =>
        (
          (await send({ path: '/v1/audit?limit=1000', token: scanned.adminToken })).json as Array<{
            actor: string;
            action: string;
            outcome: string;
            details: unknown;
          }>
        ).slice(-count);

      const noRoute = await send({ path: '/v1/nothing/here', token: scanned.adminToken });
      expect(noRoute.status).toBe(404);
      expect(apiError(noRoute)?.code).toBe('ERR_ROUTE_NOT_FOUND');
      const noVerb = await send({
        method: 'POST',
        path: '/v1/secrets/prod/app:explode',
        token: scanned.adminToken,
      });
      expect(noVerb.status).toBe(404);
      expect(await newest(2)).toMatchObject([
        { actor: adminId, details: { operation: 'unknownRoute', method: 'GET', status: 404 } },
        {
          actor: adminId,
          action: 'api.request',
          outcome: 'failure',
          details: { operation: 'unknownRoute', method: 'POST', status: 404 },
        },
      ]);

      for (let i = 0; i < 2; i++) expect((await send({ path: '/v1/nothing' })).status).toBe(404);
      expect(await newest(2)).toMatchObject([
        { actor: 'anonymous', details: { operation: 'unknownRoute', status: 404 } },
        { actor: 'anonymous', details: { operation: 'unknownRoute', status: 404 } },
      ]);
      expect((await send({ path: '/v1/nothing' })).status).toBe(404);
      const held = await send({ path: '/v1/nothing' });
      expect(held.status).toBe(429);
      expect(apiError(held)?.code).toBe('ERR_RATE_LIMITED');
    } finally {
      await scanned.close();
    }
  });
});

describe('audit verification', () => {
  it('walks the chain on the server and names an edited event', async () => {
    const intact = await expectStatus({ path: '/v1/audit/verify' }, 200);
    expect(intact.json).toMatchObject({ intact: true, events: expect.any(Number) });

    const [event] = await server.location.query<{ seq: number; actor: string }>(
      'select seq, actor from audit_events order by seq limit 1 offset 2',
    );
    if (!event) throw new Error('no audit event to edit');
    await server.location.query('update audit_events set actor = ? where seq = ?', [
      'mallory',
      event.seq,
    ]);
    try {
      const broken = await expectStatus({ path: '/v1/audit/verify' }, 200);
      expect(broken.json).toMatchObject({ intact: false, brokenAt: Number(event.seq) });
    } finally {
      await server.location.query('update audit_events set actor = ? where seq = ?', [
        event.actor,
        event.seq,
      ]);
    }
  });
});

describe('health, metrics and documentation', () => {
  it('is ready when the store answers and its migrations are applied', async () => {
    const ready = await call({ path: '/readyz', token: undefined });
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ status: 'ready' });
    const healthy = await call({ path: '/healthz', token: undefined });
    expect(healthy.status).toBe(200);

    // A store whose schema lags behind this build (a migration not applied) is not ready.
    const [latest] = await server.location.query<{ name: string; timestamp: string }>(
      'select name, timestamp from rotor_migrations order by name desc limit 1',
    );
    expect(latest).toBeDefined();
    const { name, timestamp } = latest as { name: string; timestamp: string };
    await server.location.query('delete from rotor_migrations where name = ?', [name]);
    try {
      const lagging = await call({ path: '/readyz', token: undefined });
      expect(lagging.status).toBe(503);
      expect(lagging.json).toMatchObject({ status: 'unavailable', pending: [name] });
    } finally {
      await server.location.query('insert into rotor_migrations (name, timestamp) values (?, ?)', [
        name,
        timestamp,
      ]);
    }
    expect((await call({ path: '/readyz', token: undefined })).status).toBe(200);
  });

  it('exposes rotations, their duration, secret age, overdue, failing and API latency', async () => {
    const name = uniqueName('metered');
    await createSecret(name);
    await rotate(name);
    const overdue = uniqueName('overdue');
    await createSecret(overdue);
    const failing = uniqueName('failing');
    await createSecret(failing);
    // The scheduler of this server runs hourly: rows can say what a late or failing secret looks like.
    await server.location.query('update secrets set next_rotation_at = ? where name = ?', [
      Date.now() - 60_000,
      overdue,
    ]);
    await server.location.query('update secrets set failure_count = 2 where name = ?', [failing]);

    expect((await call({ path: '/metrics', token: undefined })).status).toBe(401);
    const response = await call({ path: '/metrics' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const metrics = response.text;
    const sample = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? Number.NaN);
    expect(
      sample(/^rotor_rotations_total\{type="api-key",kind="rotate",outcome="promoted"\} (\S+)$/m),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(/^rotor_rotation_duration_seconds_count\{type="api-key"\} (\S+)$/m),
    ).toBeGreaterThanOrEqual(1);
    const age = sample(
      new RegExp(`^rotor_secret_age_seconds\\{name="${name}",type="api-key"\\} (\\S+)$`, 'm'),
    );
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(60);
    expect(sample(/^rotor_secrets_overdue (\S+)$/m)).toBeGreaterThanOrEqual(1);
    expect(sample(/^rotor_secrets_failing (\S+)$/m)).toBeGreaterThanOrEqual(1);
    expect(
      sample(
        /^rotor_api_request_duration_seconds_count\{operation="rotateSecret",status="200"\} (\S+)$/m,
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^# TYPE rotor_rotation_duration_seconds histogram$/m);
    expect(metrics).toMatch(/^# TYPE rotor_api_request_duration_seconds histogram$/m);

    // Series name secrets: a token sees those it may list, and the counts of all.
    const scoped = (await createToken([{ path: name, capabilities: ['list'] }])).token;
    const scopedMetrics = (await expectStatus({ path: '/metrics', token: scoped }, 200)).text;
    const named = [...scopedMetrics.matchAll(/^rotor_secret_age_seconds\{name="([^"]+)"/gm)];
    expect(named.map((match) => match[1])).toEqual([name]);
    expect(Number(/^rotor_secrets (\S+)$/m.exec(scopedMetrics)?.[1])).toBe(
      sample(/^rotor_secrets (\S+)$/m),
    );
  });

  it('serves an OpenAPI 3 document with every operation of the table, and a page at /docs', async () => {
    const response = await call({ path: '/docs/json', token: undefined });
    expect(response.status).toBe(200);
    const doc = response.json as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, OpenApiOperation>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    // Read for its routes only: no handler runs, so no services are needed.
    const operations = apiOperations({} as ServerServices);
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method, op })),
    );
    expect(documented.map((d) => d.op.operationId).sort()).toEqual(
      operations.map((o) => o.id).sort(),
    );
    for (const operation of operations) {
      const entry = doc.paths[operation.path]?.[operation.method.toLowerCase()];
      expect(entry, `${operation.method} ${operation.path}`).toBeDefined();
      const op = entry as OpenApiOperation;
      expect(op.operationId).toBe(operation.id);
      expect(Object.keys(op.responses).length).toBeGreaterThan(1);
      expect(op.security).toEqual([{ bearer: [] }]);
      const pathParams = [...operation.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(op.parameters.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(pathParams);
      for (const parameter of op.parameters) expect(parameter.schema).toBeTypeOf('object');
      if (operation.body) {
        const schema = op.requestBody?.content['application/json']?.schema;
        expect(schema, `${operation.id} documents its body`).toBeTypeOf('object');
        expect(schema).toMatchObject({ type: 'object' });
      } else {
        expect(op.requestBody, `${operation.id} takes no body`).toBeUndefined();
      }
    }
    const createBody = doc.paths['/v1/secrets']?.post?.requestBody;
    expect(createBody?.content['application/json']?.schema).toMatchObject({
      required: ['name', 'type'],
      additionalProperties: false,
    });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });

    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/<html/i);
  });
});

interface OpenApiOperation {
  operationId: string;
  parameters: Array<{ name: string; in: string; schema: unknown }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, unknown>;
  security: unknown;
}

describe('operations on secrets', () => {
  it('verifies current, and previous within its grace only', async () => {
    const name = uniqueName('verified');
    await createSecret(name, { value: 'the-first-value-of-it', policy: { grace: '2s' } });
    const rotated = await rotate(name);
    const current = await currentValue(name);
    expect(current.version).toBe(rotated.toVersion);
    const verify = async (value: string) =>
      (
        await expectStatus(
          { method: 'POST', path: `/v1/secrets/${name}:verify`, json: { value } },
          200,
        )
      ).json as { valid: boolean; stage: string | null };
    expect(await verify(current.value)).toEqual({ valid: true, stage: 'current' });
    expect(await verify('the-first-value-of-it')).toEqual({ valid: true, stage: 'previous' });
    expect(await verify('another-value')).toEqual({ valid: false, stage: null });
    expect(await verify('')).toEqual({ valid: false, stage: null });
    await sleep(2_100);
    expect(await verify('the-first-value-of-it')).toEqual({ valid: false, stage: null });
    expect(await verify(current.value)).toEqual({ valid: true, stage: 'current' });
  });

  it('changes policy and config with PATCH, and the next rotation follows them', async () => {
    const name = uniqueName('patched');
    await expectStatus(
      { method: 'POST', path: '/v1/secrets', json: { name, type: 'password' } },
      201,
    );
    const patched = (
      await expectStatus(
        { method: 'PATCH', path: `/v1/secrets/${name}`, json: { policy: { schedule: '7d' } } },
        200,
      )
    ).json as { policy: { schedule: string; grace: string }; nextRotationAt: string };
    expect(patched.policy).toMatchObject({ schedule: '7d', grace: '1h' });
    const inDays = (Date.parse(patched.nextRotationAt) - Date.now()) / 86_400_000;
    expect(inDays).toBeGreaterThan(6.9);
    expect(inDays).toBeLessThanOrEqual(7);

    const reconfigured = (
      await expectStatus(
        { method: 'PATCH', path: `/v1/secrets/${name}`, json: { config: { length: 48 } } },
        200,
      )
    ).json as { config: { length: number }; policy: { schedule: string } };
    expect(reconfigured.config.length).toBe(48);
    expect(reconfigured.policy.schedule).toBe('7d');
    await rotate(name);
    expect((await currentValue(name)).value).toHaveLength(48);

    const empty = await call({ method: 'PATCH', path: `/v1/secrets/${name}`, json: {} });
    expect(empty.status).toBe(400);
    expect(apiError(empty)?.message).toBe('body: expected policy or config');
    const invalid = await call({
      method: 'PATCH',
      path: `/v1/secrets/${name}`,
      json: { policy: { grace: 'soon' } },
    });
    expect(invalid.status).toBe(400);
    expect(apiError(invalid)?.message).toMatch(/grace: expected a duration/);
    const tooLong = await call({
      method: 'PATCH',
      path: `/v1/secrets/${name}`,
      json: { policy: { checkEvery: '99999999d' } },
    });
    expect(tooLong.status).toBe(400);
    expect(apiError(tooLong)?.message).toMatch(/checkEvery: /);
  });

  it('deletes a secret: its metadata and values are gone', async () => {
    const name = uniqueName('deleted');
    await createSecret(name);
    const deleted = await expectStatus({ method: 'DELETE', path: `/v1/secrets/${name}` }, 204);
    expect(deleted.text).toBe('');
    for (const path of [`/v1/secrets/${name}`, `/v1/secrets/${name}:value`]) {
      const gone = await call({ path });
      expect(gone.status).toBe(404);
      expect(apiError(gone)?.code).toBe('ERR_SECRET_NOT_FOUND');
    }
    expect((await call({ method: 'DELETE', path: `/v1/secrets/${name}` })).status).toBe(404);
    const listed = (await expectStatus({ path: '/v1/secrets?prefix=beh/' }, 200)).json as Array<{
      name: string;
    }>;
    expect(listed.map((s) => s.name)).not.toContain(name);
  });

  it('refuses stage and version together, naming both', async () => {
    const name = uniqueName('selector');
    await createSecret(name);
    const response = await call({ path: `/v1/secrets/${name}:value?stage=current&version=1` });
    expect(response.status).toBe(400);
    expect(apiError(response)?.message).toBe('query: expected either stage or version, not both');
  });
});

async function createToken(
  policy: unknown,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; token: string; name: string; expiresAt: string | null }> {
  const response = await expectStatus(
    { method: 'POST', path: '/v1/tokens', json: { policy, ...extra } },
    201,
  );
  return response.json as { id: string; token: string; name: string; expiresAt: string | null };
}

describe('tokens', () => {
  it('creates a token shown once, lists it without its value, and revokes it at once', async () => {
    const created = await createToken([{ path: 'beh/**', capabilities: ['list'] }], {
      name: 'ci job',
    });
    expect(created.token).toMatch(/^rtk_/);
    expect(created.name).toBe('ci job');
    const listed = (await expectStatus({ path: '/v1/tokens' }, 200)).json as Array<
      Record<string, unknown>
    >;
    const entry = listed.find((t) => t.id === created.id);
    expect(entry).toMatchObject({
      name: 'ci job',
      policy: [{ path: 'beh/**', capabilities: ['list'] }],
    });
    expect(Object.keys(entry as object)).not.toContain('token');
    expect(JSON.stringify(listed)).not.toContain(created.token);

    const withToken = (path: string) => call({ path, token: created.token });
    expect((await withToken('/v1/secrets')).status).toBe(200);
    await expectStatus({ method: 'DELETE', path: `/v1/tokens/${created.id}` }, 204);
    const refused = await withToken('/v1/secrets');
    expect(refused.status).toBe(401);
    expect(apiError(refused)?.code).toBe('ERR_UNAUTHENTICATED');
    const listedAfter = (await expectStatus({ path: '/v1/tokens' }, 200)).json as Array<{
      id: string;
    }>;
    expect(listedAfter.map((t) => t.id)).not.toContain(created.id);
    const again = await call({ method: 'DELETE', path: `/v1/tokens/${created.id}` });
    expect(again.status).toBe(404);
    expect(apiError(again)?.code).toBe('ERR_TOKEN_NOT_FOUND');
  });

  it('expires a token at the end of its ttl', async () => {
    const created = await createToken([{ path: '**', capabilities: ['list'] }], { ttl: '1s' });
    expect(Date.parse(created.expiresAt as string) - Date.now()).toBeLessThanOrEqual(1_000);
    expect((await call({ path: '/v1/secrets', token: created.token })).status).toBe(200);
    await sleep(Math.max(0, Date.parse(created.expiresAt as string) - Date.now() + 50));
    expect((await call({ path: '/v1/secrets', token: created.token })).status).toBe(401);
    const listed = (await expectStatus({ path: '/v1/tokens' }, 200)).json as Array<{ id: string }>;
    expect(listed.map((t) => t.id)).not.toContain(created.id);
  });

  it.each([
    ['0s', /^ttl: expected a duration from 1s/],
    ['99999999d', /^ttl: expected a duration from 1s/],
    ['soon', /^ttl: expected a duration from 1s/],
  ])('refuses a ttl of %s', async (ttl, message) => {
    const response = await call({
      method: 'POST',
      path: '/v1/tokens',
      json: { policy: [{ path: '**', capabilities: ['read'] }], ttl },
    });
    expect(response.status).toBe(400);
    expect(apiError(response)?.message).toMatch(message);
  });

  it('refuses a policy with an unknown capability, naming it', async () => {
    const response = await call({
      method: 'POST',
      path: '/v1/tokens',
      json: { policy: [{ path: '**', capabilities: ['root'] }] },
    });
    expect(response.status).toBe(400);
    expect(apiError(response)?.message).toMatch(/policy\.0\.capabilities\.0: expected one of/);
  });
});
