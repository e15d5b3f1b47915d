import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoreDialect } from '../../src/store/store.js';
import { apiRequest, type RawResponse } from '../support/api-request.js';
import { ROTOR_BIN, runCli } from '../support/run-cli.js';
import { createStoreLocation, STORE_DIALECTS, type StoreLocation } from '../support/test-stores.js';
import { WebhookTarget } from '../support/webhook-target.js';

/**
 * `rotor server` as a user runs it: the built CLI as a child process. It
 * shuts down on SIGTERM without cutting work short (a rotation in flight
 * finishes, nothing new is claimed, waiting clients are let go, the store
 * closes), serves HTTPS when given a certificate, rotates due secrets and
 * checks for drift on its own, and never logs a value or a token, even at
 * debug level. Run `npm run build` first: the child runs dist/.
 */

interface Home {
  readonly dir: string;
  readonly location: StoreLocation;
  readonly env: Record<string, string>;
  readonly adminToken: string;
}

interface RotorServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const homes: Home[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const home of homes.splice(0)) {
    await home.location.destroy();
    rmSync(home.dir, { recursive: true, force: true });
  }
});

async function initialisedHome(dialect: StoreDialect): Promise<Home> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-lifecycle-'));
  const location = await createStoreLocation(dialect, 'lifecycle');
  const env = { ROTOR_HOME: dir, ROTOR_STORE: location.url };
  const init = await runCli(['init', '--json'], { env });
  expect(init.code, init.stderr).toBe(0);
  const home = {
    dir,
    location,
    env,
    adminToken: (JSON.parse(init.stdout) as { adminToken: string }).adminToken,
  };
  homes.push(home);
  return home;
}

/** Starts `rotor server` on a free port and waits until it says where it listens. */
async function startServer(
  home: Home,
  args: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<RotorServerProcess> {
  const inherited = Object.entries(process.env).filter(([key]) => !key.startsWith('ROTOR_'));
  const child = spawn(process.execPath, [ROTOR_BIN, 'server', '--listen', '127.0.0.1:0', ...args], {
    env: {
      ...Object.fromEntries(inherited),
      ...home.env,
      ROTOR_LOG_LEVEL: 'debug',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = /Rotor listening on (\S+) /.exec(stdout)?.[1];
    if (url) return { url, child, stdout: () => stdout, stderr: () => stderr, exited };
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`rotor server did not start: ${stdout}\n${stderr}`);
    }
    await sleep(20);
  }
}

/** Sends SIGTERM and waits for the exit, which must come within `withinMs`. */
async function terminate(
  server: RotorServerProcess,
  withinMs = 15_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const sent = Date.now();
  server.child.kill('SIGTERM');
  const exit = await Promise.race([
    server.exited,
    sleep(withinMs).then(() => {
      throw new Error(`no exit within ${withinMs} ms after SIGTERM:\n${server.stderr()}`);
    }),
  ]);
  return { ...exit, ms: Date.now() - sent };
}

/** A hook target that accepts every value and takes its time to verify one. */
class SlowHook {
  readonly calls: Array<{ step: string; secret: string; value: string }> = [];
  #server: Server | undefined;
  #url = '';

  constructor(readonly verifyDelayMs: number) {}

  get url(): string {
    return this.#url;
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const call = JSON.parse(Buffer.concat(chunks).toString()) as SlowHook['calls'][number];
        this.calls.push(call);
        setTimeout(() => res.writeHead(204).end(), call.step === 'verify' ? this.verifyDelayMs : 0);
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  async waitFor(step: string, secret: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.calls.some((c) => c.step === step && c.secret === secret)) {
      if (Date.now() > deadline) throw new Error(`no ${step} call for ${secret}`);
      await sleep(10);
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.#server ? this.#server.close(() => resolve()) : resolve(),
    );
  }
}

function api(server: RotorServerProcess, home: Home) {
  return (method: string, path: string, json?: unknown): Promise<RawResponse> =>
    apiRequest(server.url, { method, path, json, token: home.adminToken });
}

async function rotationsOf(
  home: Home,
  name: string,
): Promise<Array<{ state: string; lease_owner: string | null }>> {
  return home.location.query(
    'select r.state, r.lease_owner from rotations r join secrets s on s.id = r.secret_id where s.name = ? order by r.id',
    [name],
  );
}

/** Every value a secret has had, read back through the API, to look for in the logs. */
async function valuesOf(server: RotorServerProcess, home: Home, name: string): Promise<string[]> {
  const call = api(server, home);
  const versions = (await call('GET', `/v1/secrets/${name}:versions`)).json as Array<{
    version: number;
  }>;
  const values: string[] = [];
  for (const { version } of versions) {
    const read = await call('GET', `/v1/secrets/${name}:value?version=${version}`);
    if (read.status === 200) values.push((read.json as { value: string }).value);
  }
  return values;
}

function expectNoneLogged(stderr: string, secrets: readonly string[]): void {
  expect(stderr.length).toBeGreaterThan(0);
  for (const secret of secrets) {
    expect(secret.length).toBeGreaterThan(8);
    expect(stderr.includes(secret), `the log holds a secret (${secret.slice(0, 4)}…)`).toBe(false);
  }
}

describe.each<StoreDialect>(STORE_DIALECTS)('rotor server shutdown (%s store)', (dialect) => {
  it('on SIGTERM finishes the rotation a request started, answers it, closes the store and exits 0', async () => {
    const home = await initialisedHome(dialect);
    const hook = new SlowHook(1_500);
    await hook.start();
    try {
      const server = await startServer(home, ['--interval', '1h']);
      const call = api(server, home);
      const name = 'life/slow';
      const created = await call('POST', '/v1/secrets', {
        name,
        type: 'api-key',
        config: { webhook: { url: hook.url } },
      });
      expect(created.status, created.text).toBe(201);

      const rotating = call('POST', `/v1/secrets/${name}:rotate`);
      await hook.waitFor('verify', name);
      const exit = terminate(server);
      const answered = await rotating;
      expect(answered.status, answered.text).toBe(200);
      expect(answered.json).toMatchObject({ result: 'promoted', toVersion: 2 });
      const { code, signal } = await exit;
      expect({ code, signal }, server.stderr()).toEqual({ code: 0, signal: null });
      expect(server.stdout()).toMatch(/shutting down: finishing work in progress\nstopped\n$/);

      expect(await rotationsOf(home, name)).toEqual([{ state: 'done', lease_owner: null }]);
      if (dialect === 'sqlite') {
        // A closed SQLite database has folded its write-ahead log back into the file.
        const wal = `${home.location.url.slice('sqlite:'.length)}-wal`;
        expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);
      }
      const values = hook.calls.map((c) => c.value);
      expectNoneLogged(server.stderr(), [...new Set(values), home.adminToken]);
    } finally {
      await hook.stop();
    }
  });
});

describe('rotor server', () => {
  it('on SIGTERM lets the scheduled rotation in flight finish and claims no more', async () => {
    const home = await initialisedHome('sqlite');
    const hook = new SlowHook(1_500);
    await hook.start();
    try {
      // Created due, before the server starts: its first scheduler run finds them.
      const setup = await startServer(home, ['--interval', '1h']);
      const names = ['life/due-a', 'life/due-b'];
      for (const name of names) {
        const created = await api(setup, home)('POST', '/v1/secrets', {
          name,
          type: 'api-key',
          config: { webhook: { url: hook.url } },
          policy: { schedule: '1s' },
        });
        expect(created.status, created.text).toBe(201);
      }
      expect((await terminate(setup)).code).toBe(0);
      await sleep(1_100);

      const server = await startServer(home, ['--interval', '200ms']);
      const first = await Promise.race(
        names.map(async (name) => {
          await hook.waitFor('verify', name);
          return name;
        }),
      );
      const { code, signal } = await terminate(server);
      expect({ code, signal }, server.stderr()).toEqual({ code: 0, signal: null });

      const other = names.find((n) => n !== first) as string;
      expect(await rotationsOf(home, first)).toEqual([{ state: 'done', lease_owner: null }]);
      // Stopping: the second due secret was not claimed, and waits for the next server.
      expect(await rotationsOf(home, other)).toEqual([]);
      const events = await home.location.query<{ actor: string; action: string }>(
        "select actor, action from audit_events where secret = ? and action like 'rotation.%' order by seq",
        [first],
      );
      expect(events.map((e) => e.action)).toContain('rotation.promoted');
      expect(new Set(events.map((e) => e.actor))).toEqual(new Set(['scheduler']));
      expectNoneLogged(server.stderr(), [
        ...new Set(hook.calls.map((c) => c.value)),
        home.adminToken,
      ]);
    } finally {
      await hook.stop();
    }
  });

  it('on SIGTERM lets go of long polls and event streams at once', async () => {
    const home = await initialisedHome('sqlite');
    const server = await startServer(home, ['--interval', '1h']);
    const call = api(server, home);
    const name = 'life/watched';
    expect((await call('POST', '/v1/secrets', { name, type: 'api-key' })).status).toBe(201);
    const events = await fetch(`${server.url}/v1/events`, {
      headers: { authorization: `Bearer ${home.adminToken}` },
    });
    expect(events.status).toBe(200);
    const streamEnded = events.text();
    const polling = apiRequest(server.url, {
      path: `/v1/secrets/${name}:value?wait=60`,
      token: home.adminToken,
      headers: { 'if-none-match': '"1"' },
      timeoutMs: 70_000,
    });
    await sleep(300);
    const exit = await terminate(server);
    expect({ code: exit.code, signal: exit.signal }, server.stderr()).toEqual({
      code: 0,
      signal: null,
    });
    expect(exit.ms).toBeLessThan(5_000);
    expect((await polling).status).toBe(304);
    expect(await streamEnded).toMatch(/^: rotor events\n\n/);
  });

  it('serves HTTPS with --tls-cert and --tls-key', async () => {
    const home = await initialisedHome('sqlite');
    const certDir = mkdtempSync(join(tmpdir(), 'rotor-tls-'));
    try {
      const cert = join(certDir, 'cert.pem');
      const key = join(certDir, 'key.pem');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      const server = await startServer(home, [
        '--interval',
        '1h',
        '--tls-cert',
        cert,
        '--tls-key',
        key,
      ]);
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(cert);
      const health = await httpsGet(`${server.url}/healthz`, ca);
      expect(health).toEqual({ status: 200, body: '{"status":"ok"}' });
      const listed = await httpsGet(`${server.url}/v1/secrets`, ca, home.adminToken);
      expect(listed).toEqual({ status: 200, body: '[]' });
      // The certificate is the one given: a client that does not trust it is refused.
      await expect(httpsGet(`${server.url}/healthz`, undefined)).rejects.toThrow(/self[- ]signed/i);
      // And nothing answers in plain HTTP.
      await expect(fetch(`${server.url.replace('https:', 'http:')}/healthz`)).rejects.toThrow();
      const { code } = await terminate(server);
      expect(code).toBe(0);
      expectNoneLogged(server.stderr(), [home.adminToken]);
    } finally {
      rmSync(certDir, { recursive: true, force: true });
    }
  });

  it('rotates due secrets and alerts on drift by itself, logging neither values nor tokens', async () => {
    const home = await initialisedHome('sqlite');
    const target = new WebhookTarget();
    await target.start();
    try {
      const server = await startServer(home, ['--interval', '200ms'], {
        ROTOR_ALERT_WEBHOOK: target.alertUrl,
      });
      const call = api(server, home);
      const scheduled = 'life/scheduled';
      const drifting = 'life/drifting';
      // A short grace too: a rotation waits for the previous version's grace to end.
      const rotating = await call('POST', '/v1/secrets', {
        name: scheduled,
        type: 'api-key',
        policy: { schedule: '1s', grace: '1s' },
      });
      expect(rotating.status, rotating.text).toBe(201);
      // The target holds the password Rotor is given; later it is changed behind Rotor's back.
      const current = 'the-password-in-use-0123456789';
      target.accepted.add(current);
      const checked = await call('POST', '/v1/secrets', {
        name: drifting,
        type: 'password',
        value: current,
        config: { webhook: { url: target.url } },
        policy: { checkEvery: '1s' },
      });
      expect(checked.status, checked.text).toBe(201);
      await waitUntil(() => target.calls.some((c) => c.step === 'check' && c.value === current));
      expect(target.alerts).toEqual([]);
      target.accepted.delete(current);
      target.accepted.add('changed-by-someone-else');
      await waitUntil(() => target.alerts.length > 0);
      expect(target.alerts[0]).toMatchObject({
        event: 'rotation.alert',
        secret: drifting,
        step: 'check',
      });
      expect(JSON.stringify(target.alerts)).not.toContain(current);

      await waitUntil(async () => {
        const versions = (await call('GET', `/v1/secrets/${scheduled}:versions`)).json as unknown[];
        return versions.length >= 3;
      });
      const actors = (
        (await call('GET', `/v1/audit?secret=${scheduled}`)).json as Array<{
          actor: string;
          action: string;
        }>
      )
        .filter((e) => e.action === 'rotation.promoted')
        .map((e) => e.actor);
      expect(actors.length).toBeGreaterThanOrEqual(2);
      expect(new Set(actors)).toEqual(new Set(['scheduler']));

      const values = [
        ...(await valuesOf(server, home, scheduled)),
        ...(await valuesOf(server, home, drifting)),
      ];
      const { code } = await terminate(server);
      expect(code).toBe(0);
      expect(server.stderr()).toMatch(/"level":40.*rotation alert: life\/drifting/);
      expect(server.stderr()).toMatch(/scheduler run finished/);
      expectNoneLogged(server.stderr(), [...values, home.adminToken]);
    } finally {
      await target.stop();
    }
  });
});

async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

function httpsGet(
  url: string,
  ca: Buffer | undefined,
  token?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      { ca, headers: token ? { authorization: `Bearer ${token}` } : {}, agent: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (d: string) => {
          body += d;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}
