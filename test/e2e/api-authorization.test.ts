import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITIES, type Capability } from '../../src/access/token-policy.js';
import { apiOperations } from '../../src/server/api-server.js';
import type { Access } from '../../src/server/operation.js';
import type { ServerServices } from '../../src/server/server-services.js';
import { apiError, apiRequest, type RawResponse } from '../support/api-request.js';
import { startTestServer, type TestServer } from '../support/rotor-server.js';

/**
 * Every API operation against every capability. For each operation of the
 * table the server is built from, tokens holding exactly one capability (on
 * the secrets' path, and on `**`), a token holding all of them elsewhere, and
 * six kinds of missing or dead tokens make the same request: an allowed one
 * must succeed, a refused one must answer 403 (401 without a live token)
 * with a body that does not depend on whether the secret exists. Every
 * request must leave audit events naming the token as their actor.
 */

// Read for its routes and access rules only: no handler runs, so no services are needed.
const OPERATIONS = apiOperations({} as ServerServices);

/** Who may call an operation, stated here independently of the code under test. */
type Rule =
  /** The capability on the secret the request names. */
  | 'on-secret'
  /** The capability on `**`. */
  | 'everywhere'
  /** Any live token; what it sees is filtered. */
  | 'anyone';

/** What one request acts on. */
interface Target {
  readonly name: string;
  readonly tokenId: string;
}

interface Row {
  readonly method: string;
  readonly path: string;
  readonly access: Access;
  readonly rule: Rule;
  /** What an allowed call acts on: the shared secret, one of its own, a name not taken yet, or a token of its own. */
  readonly target: 'shared' | 'fresh-secret' | 'new-name' | 'fresh-token';
  /** The status of an allowed call. */
  readonly status: number;
  /** Puts a fresh secret in the state the call needs. */
  readonly prepare?: (name: string) => Promise<void>;
  request(target: Target): { path: string; json?: unknown };
}

const secret = (name: string, verb = '') => `/v1/secrets/${name}${verb && `:${verb}`}`;

/** One row per operation id: a new operation without a row fails the first test. */
const ROWS: Readonly<Record<string, Row>> = {
  createSecret: {
    method: 'POST',
    path: '/v1/secrets',
    access: { scope: 'bodyName', capability: 'write' },
    rule: 'on-secret',
    target: 'new-name',
    status: 201,
    request: ({ name }) => ({ path: '/v1/secrets', json: { name, type: 'api-key' } }),
  },
  listSecrets: {
    method: 'GET',
    path: '/v1/secrets',
    access: { scope: 'filtered', capability: 'list' },
    rule: 'anyone',
    target: 'shared',
    status: 200,
    request: () => ({ path: '/v1/secrets' }),
  },
  getSecret: {
    method: 'GET',
    path: '/v1/secrets/{name}',
    access: { scope: 'secret', capability: 'list' },
    rule: 'on-secret',
    target: 'shared',
    status: 200,
    request: ({ name }) => ({ path: secret(name) }),
  },
  getSecretValue: {
    method: 'GET',
    path: '/v1/secrets/{name}:value',
    access: { scope: 'secret', capability: 'read' },
    rule: 'on-secret',
    target: 'shared',
    status: 200,
    request: ({ name }) => ({ path: secret(name, 'value') }),
  },
  listSecretVersions: {
    method: 'GET',
    path: '/v1/secrets/{name}:versions',
    access: { scope: 'secret', capability: 'list' },
    rule: 'on-secret',
    target: 'shared',
    status: 200,
    request: ({ name }) => ({ path: secret(name, 'versions') }),
  },
  putSecretValue: {
    method: 'POST',
    path: '/v1/secrets/{name}:put',
    access: { scope: 'secret', capability: 'write' },
    rule: 'on-secret',
    target: 'fresh-secret',
    status: 201,
    request: ({ name }) => ({ path: secret(name, 'put'), json: { value: 'a-value-put-by-test' } }),
  },
  updateSecret: {
    method: 'PATCH',
    path: '/v1/secrets/{name}',
    access: { scope: 'secret', capability: 'write' },
    rule: 'on-secret',
    target: 'fresh-secret',
    status: 200,
    request: ({ name }) => ({ path: secret(name), json: { policy: { grace: '2h' } } }),
  },
  deleteSecret: {
    method: 'DELETE',
    path: '/v1/secrets/{name}',
    access: { scope: 'secret', capability: 'write' },
    rule: 'on-secret',
    target: 'fresh-secret',
    status: 204,
    request: ({ name }) => ({ path: secret(name) }),
  },
  resumeSecret: {
    method: 'POST',
    path: '/v1/secrets/{name}:resume',
    access: { scope: 'secret', capability: 'rotate' },
    rule: 'on-secret',
    target: 'fresh-secret',
    status: 200,
    request: ({ name }) => ({ path: secret(name, 'resume') }),
  },
  verifySecretValue: {
    method: 'POST',
    path: '/v1/secrets/{name}:verify',
    access: { scope: 'secret', capability: 'read' },
    rule: 'on-secret',
    target: 'shared',
    status: 200,
    request: ({ name }) => ({ path: secret(name, 'verify'), json: { value: 'not-the-value' } }),
  },
  rotateSecret: {
    method: 'POST',
    path: '/v1/secrets/{name}:rotate',
    access: { scope: 'secret', capability: 'rotate' },
    rule: 'on-secret',
    target: 'fresh-secret',
    status: 200,
    request: ({ name }) => ({ path: secret(name, 'rotate') }),
  },
  rollbackSecret: {
    method: 'POST',
    path: '/v1/secrets/{name}:rollback',
    access: { scope: 'secret', capability: 'rotate' },
    rule: 'on-secret',
    target: 'fresh-secret',
    status: 200,
    prepare: async (name) => {
      await asAdmin({ method: 'POST', path: secret(name, 'rotate') }, 200);
    },
    request: ({ name }) => ({ path: secret(name, 'rollback') }),
  },
  cancelRotation: {
    method: 'POST',
    path: '/v1/secrets/{name}:cancel',
    access: { scope: 'secret', capability: 'rotate' },
    rule: 'on-secret',
    target: 'shared',
    // Allowed, and answered: there is no rotation in flight to cancel.
    status: 409,
    request: ({ name }) => ({ path: secret(name, 'cancel') }),
  },
  listRotations: {
    method: 'GET',
    path: '/v1/rotations',
    access: { scope: 'filtered', capability: 'list' },
    rule: 'anyone',
    target: 'shared',
    status: 200,
    request: () => ({ path: '/v1/rotations' }),
  },
  metrics: {
    method: 'GET',
    path: '/metrics',
    access: { scope: 'filtered', capability: 'list' },
    rule: 'anyone',
    target: 'shared',
    status: 200,
    request: () => ({ path: '/metrics' }),
  },
  streamEvents: {
    method: 'GET',
    path: '/v1/events',
    access: { scope: 'filtered', capability: 'list' },
    rule: 'anyone',
    target: 'shared',
    status: 200,
    request: () => ({ path: '/v1/events' }),
  },
  listAuditEvents: {
    method: 'GET',
    path: '/v1/audit',
    access: { scope: 'filtered', capability: 'admin' },
    rule: 'on-secret',
    target: 'shared',
    status: 200,
    request: ({ name }) => ({ path: `/v1/audit?secret=${name}` }),
  },
  verifyAudit: {
    method: 'GET',
    path: '/v1/audit/verify',
    access: { scope: 'everywhere', capability: 'admin' },
    rule: 'everywhere',
    target: 'shared',
    status: 200,
    request: () => ({ path: '/v1/audit/verify' }),
  },
  createToken: {
    method: 'POST',
    path: '/v1/tokens',
    access: { scope: 'everywhere', capability: 'admin' },
    rule: 'everywhere',
    target: 'shared',
    status: 201,
    request: () => ({
      path: '/v1/tokens',
      json: { policy: [{ path: 'authz/*', capabilities: ['read'] }] },
    }),
  },
  listTokens: {
    method: 'GET',
    path: '/v1/tokens',
    access: { scope: 'everywhere', capability: 'admin' },
    rule: 'everywhere',
    target: 'shared',
    status: 200,
    request: () => ({ path: '/v1/tokens' }),
  },
  revokeToken: {
    method: 'DELETE',
    path: '/v1/tokens/{id}',
    access: { scope: 'everywhere', capability: 'admin' },
    rule: 'everywhere',
    target: 'fresh-token',
    status: 204,
    request: ({ tokenId }) => ({ path: `/v1/tokens/${tokenId}` }),
  },
};

interface TokenSpec {
  readonly label: string;
  readonly path: string;
  readonly capabilities: readonly Capability[];
}

const SECRETS_GLOB = 'authz/*';
const ELSEWHERE_GLOB = 'other/**';

/** Exactly one capability on the secrets' path, and on `**`; every capability on another path. */
const TOKEN_SPECS: readonly TokenSpec[] = [
  ...CAPABILITIES.flatMap((c) => [
    { label: `${c} on ${SECRETS_GLOB}`, path: SECRETS_GLOB, capabilities: [c] },
    { label: `${c} on **`, path: '**', capabilities: [c] },
  ]),
  { label: `all on ${ELSEWHERE_GLOB}`, path: ELSEWHERE_GLOB, capabilities: [...CAPABILITIES] },
];

/** A secret outside the matching path, to see that listings leave it out. */
const ELSEWHERE_SECRET = 'other/seen';
const SHARED_NAME = 'authz/shared';
const MISSING: Target = { name: 'authz/missing', tokenId: 'AbsentToken1' };

function isAllowed(row: Row, spec: TokenSpec): boolean {
  const holds = spec.capabilities.includes(row.access.capability);
  switch (row.rule) {
    case 'anyone':
      return true;
    case 'everywhere':
      return holds && spec.path === '**';
    case 'on-secret':
      return holds && spec.path !== ELSEWHERE_GLOB;
  }
}

function mayList(spec: TokenSpec, name: string): boolean {
  if (!spec.capabilities.includes('list')) return false;
  if (spec.path === '**') return true;
  if (spec.path === SECRETS_GLOB) return /^authz\/[^/]+$/.test(name);
  return name.startsWith('other/');
}

let server: TestServer;
/** The secret and token refused requests aim at; allowed reads use them too. */
let sharedTarget: Target;
let counter = 0;
const tokens = new Map<string, { id: string; token: string }>();
/** Kinds of requests without a live token, each with the Authorization header it sends. */
const deadCredentials = new Map<string, Record<string, string>>();

interface AuditedCall {
  readonly label: string;
  readonly operation: string;
  readonly actor: string;
  readonly status: number;
  /** The audit sequence numbers before and after the call. */
  readonly before: number;
  readonly after: number;
}
const auditedCalls: AuditedCall[] = [];

async function asAdmin(
  request: { method?: string; path: string; json?: unknown },
  status: number,
): Promise<RawResponse> {
  const response = await apiRequest(server.url, { ...request, token: server.adminToken });
  expect(response.status, `${request.method ?? 'GET'} ${request.path}: ${response.text}`).toBe(
    status,
  );
  return response;
}

async function createToken(
  policy: ReadonlyArray<{ path: string; capabilities: readonly Capability[] }>,
  ttl?: string,
): Promise<{ id: string; token: string }> {
  const created = await asAdmin({ method: 'POST', path: '/v1/tokens', json: { policy, ttl } }, 201);
  return created.json as { id: string; token: string };
}

async function auditSeq(): Promise<number> {
  const [row] = await server.location.query<{ seq: number | null }>(
    'select max(seq) as seq from audit_events',
  );
  return Number(row?.seq ?? 0);
}

/** One request; an event stream is only opened, then closed. */
async function send(
  row: Row,
  target: Target,
  headers: Record<string, string>,
): Promise<RawResponse> {
  const { path, json } = row.request(target);
  if (path === '/v1/events') {
    const response = await fetch(`${server.url}${path}`, { headers });
    const text = response.ok ? '' : await response.text();
    if (response.ok) await response.body?.cancel();
    return { status: response.status, headers: response.headers, text, json: tryJson(text) };
  }
  return apiRequest(server.url, { method: row.method, path, json, headers });
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Sends a request and remembers which audit events it left, to check their actor at the end. */
async function audited(
  label: string,
  operation: string,
  actor: string,
  call: () => Promise<RawResponse>,
): Promise<RawResponse> {
  const before = await auditSeq();
  const response = await call();
  let after = await auditSeq();
  // An event stream's answer leaves as soon as it opens; its request is recorded right after.
  for (let waited = 0; after === before && waited < 2_000; waited += 20) {
    await sleep(20);
    after = await auditSeq();
  }
  auditedCalls.push({ label, operation, actor, status: response.status, before, after });
  return response;
}

async function targetFor(row: Row): Promise<Target> {
  counter += 1;
  switch (row.target) {
    case 'shared':
      return sharedTarget;
    case 'new-name':
      return { name: `authz/new-${counter}`, tokenId: '' };
    case 'fresh-token': {
      const created = await createToken([{ path: 'authz/*', capabilities: ['read'] }]);
      return { name: SHARED_NAME, tokenId: created.id };
    }
    case 'fresh-secret': {
      const name = `authz/own-${counter}`;
      await asAdmin({ method: 'POST', path: '/v1/secrets', json: { name, type: 'api-key' } }, 201);
      await row.prepare?.(name);
      return { name, tokenId: '' };
    }
  }
}

beforeAll(async () => {
  server = await startTestServer();
  for (const name of [SHARED_NAME, ELSEWHERE_SECRET]) {
    await asAdmin({ method: 'POST', path: '/v1/secrets', json: { name, type: 'api-key' } }, 201);
    await asAdmin({ method: 'POST', path: secret(name, 'rotate') }, 200);
  }
  for (const spec of TOKEN_SPECS) {
    tokens.set(
      spec.label,
      await createToken([{ path: spec.path, capabilities: spec.capabilities }]),
    );
  }
  const shared = await createToken([{ path: 'authz/*', capabilities: ['read'] }]);
  sharedTarget = { name: SHARED_NAME, tokenId: shared.id };

  const expiringSince = Date.now();
  const expiring = await createToken([{ path: '**', capabilities: [...CAPABILITIES] }], '1s');
  const revoked = await createToken([{ path: '**', capabilities: [...CAPABILITIES] }]);
  // Both work before they die, so their 401s below come from expiry and revocation alone.
  for (const live of [expiring, revoked]) {
    const response = await apiRequest(server.url, { path: '/v1/tokens', token: live.token });
    expect(response.status).toBe(200);
  }
  await asAdmin({ method: 'DELETE', path: `/v1/tokens/${revoked.id}` }, 204);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  deadCredentials.set('no token', {});
  deadCredentials.set('not a bearer token', { authorization: 'Basic YWRtaW46YWRtaW4=' });
  deadCredentials.set('malformed token', bearer('not-a-rotor-token'));
  deadCredentials.set('unknown token', bearer(`rtk_${'A'.repeat(12)}_${'B'.repeat(43)}`));
  deadCredentials.set('known id, wrong secret', bearer(`rtk_${revoked.id}_${'B'.repeat(43)}`));
  deadCredentials.set('revoked token', bearer(revoked.token));
  deadCredentials.set('expired token', bearer(expiring.token));
  await sleep(Math.max(0, expiringSince + 1_100 - Date.now()));
});

afterAll(async () => {
  await server?.close();
});

describe('API authorisation, every operation × every capability', () => {
  it('has a row for every operation of the table, and no row for an operation it lacks', () => {
    expect(Object.keys(ROWS).sort()).toEqual(OPERATIONS.map((op) => op.id).sort());
    for (const op of OPERATIONS) {
      const row = ROWS[op.id] as Row;
      expect({ id: op.id, method: op.method, path: op.path, access: op.access }).toEqual({
        id: op.id,
        method: row.method,
        path: row.path,
        access: row.access,
      });
    }
  });

  it.each(OPERATIONS.map((op) => [op.id]))('%s', async (id) => {
    const row = ROWS[id] as Row;
    for (const spec of TOKEN_SPECS) {
      const { id: tokenId, token } = tokens.get(spec.label) as { id: string; token: string };
      const headers = { authorization: `Bearer ${token}` };
      const label = `${id} with ${spec.label}`;
      if (isAllowed(row, spec)) {
        const target = await targetFor(row);
        const response = await audited(label, id, tokenId, () => send(row, target, headers));
        expect(response.status, `${label}: ${response.text}`).toBe(row.status);
        if (row.status === 409) expect(apiError(response)?.code).toBe('ERR_NOT_IN_FLIGHT');
        checkFiltered(id, spec, response);
        continue;
      }
      const existing = await audited(label, id, tokenId, () => send(row, sharedTarget, headers));
      const missing = await send(row, MISSING, headers);
      expect(existing.status, `${label}: ${existing.text}`).toBe(403);
      expect(apiError(existing)?.code).toBe('ERR_FORBIDDEN');
      expect(missing.text, `${label}: a refusal must not tell whether it exists`).toBe(
        existing.text,
      );
      expect(missing.status).toBe(403);
    }
    for (const [kind, headers] of deadCredentials) {
      const label = `${id} with ${kind}`;
      const existing = await audited(label, id, 'anonymous', () =>
        send(row, sharedTarget, headers),
      );
      const missing = await send(row, MISSING, headers);
      expect(existing.status, `${label}: ${existing.text}`).toBe(401);
      expect(apiError(existing)?.code).toBe('ERR_UNAUTHENTICATED');
      expect(missing.text, label).toBe(existing.text);
      expect(missing.status).toBe(401);
    }
    // The shared secret and token are untouched by everything refused above.
    await asAdmin({ path: secret(sharedTarget.name) }, 200);
    const live = (await asAdmin({ path: '/v1/tokens' }, 200)).json as Array<{ id: string }>;
    expect(live.map((t) => t.id)).toContain(sharedTarget.tokenId);
  });

  it('matches ** across segments and * within one', async () => {
    const deep = 'authz/deep/er';
    await asAdmin(
      { method: 'POST', path: '/v1/secrets', json: { name: deep, type: 'api-key' } },
      201,
    );
    const oneLevel = await createToken([{ path: 'authz/*', capabilities: ['read'] }]);
    const anyDepth = await createToken([{ path: 'authz/**', capabilities: ['read'] }]);
    const read = (token: string) => apiRequest(server.url, { path: secret(deep, 'value'), token });
    expect((await read(oneLevel.token)).status).toBe(403);
    expect((await read(anyDepth.token)).status).toBe(200);
  });

  it('records every request in the audit trail with the token id as actor', async () => {
    const events: Array<{ seq: number; actor: string; action: string; details: unknown }> = [];
    const from = Math.min(...auditedCalls.map((c) => c.before));
    for (let since = from; ; ) {
      const page = (await asAdmin({ path: `/v1/audit?since=${since}&limit=1000` }, 200))
        .json as typeof events;
      events.push(...page);
      const last = page.at(-1);
      if (last === undefined || page.length < 1000) break;
      since = last.seq;
    }
    expect(auditedCalls.length).toBeGreaterThan(OPERATIONS.length * TOKEN_SPECS.length);
    for (const call of auditedCalls) {
      const recorded = events.filter((e) => e.seq > call.before && e.seq <= call.after);
      expect(recorded.length, `${call.label} left no audit event`).toBeGreaterThan(0);
      for (const event of recorded) expect(event.actor, call.label).toBe(call.actor);
      if (call.status >= 400) {
        expect(recorded, call.label).toContainEqual(
          expect.objectContaining({
            action: 'api.request',
            details: { operation: call.operation, status: call.status },
          }),
        );
      }
    }
  });
});

/** A listing, or the metrics' per-secret series, hold exactly what the token may list. */
function checkFiltered(id: string, spec: TokenSpec, response: RawResponse): void {
  let names: string[];
  if (id === 'metrics') {
    names = [...response.text.matchAll(/^rotor_secret_age_seconds\{name="([^"]+)"/gm)].map(
      (match) => match[1] as string,
    );
  } else if (id === 'listSecrets' || id === 'listRotations') {
    names = (response.json as Array<{ name: string }>).map((item) => item.name);
  } else {
    return;
  }
  for (const name of names) expect(mayList(spec, name), `${spec.label} sees ${name}`).toBe(true);
  for (const name of [SHARED_NAME, ELSEWHERE_SECRET]) {
    if (mayList(spec, name)) expect(names, `${spec.label} misses ${name}`).toContain(name);
  }
}
