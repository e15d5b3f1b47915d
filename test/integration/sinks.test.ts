import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/core/secret-value.js';
import type { Alert } from '../../src/engine/alerter.js';
import { RotationEngine } from '../../src/engine/rotation-engine.js';
import { SecretService } from '../../src/service/secret-service.js';
import type { Store } from '../../src/store/store.js';
import {
  createStoreLocation,
  STORE_DIALECTS,
  type StoreLocation,
  testKeyring,
} from '../support/test-stores.js';

const keyring = testKeyring();
const MINUTE = 60_000;
const DAY = 86_400_000;

class TestClock {
  #ms = Date.parse('2026-06-01T00:00:00Z');
  readonly now = () => new Date(this.#ms);
  advance(ms: number): void {
    this.#ms += ms;
  }
}

interface WebhookBody {
  readonly event: string;
  readonly secret: string;
  readonly version: number;
  readonly at: string;
}

/** A real HTTP endpoint recording every JSON body POSTed to it. */
class WebhookReceiver {
  readonly bodies: WebhookBody[] = [];
  readonly raw: string[] = [];
  status = 204;
  readonly #server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      this.raw.push(body);
      this.bodies.push(JSON.parse(body) as WebhookBody);
      response.writeHead(this.status).end();
    });
  });

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/rotor-events`;
  }

  start(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** The bodies received for `secret` after the first `since` bodies of all secrets. */
  bodiesFor(secret: string, since: number): WebhookBody[] {
    return this.bodies.slice(since).filter((body) => body.secret === secret);
  }
}

/** A local port nothing listens on (any more). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.each(STORE_DIALECTS)('sinks on %s', (dialect) => {
  let location: StoreLocation;
  let store: Store;
  let clock: TestClock;
  let secrets: SecretService;
  let receiver: WebhookReceiver;
  let dir: string;
  let alerts: Alert[];
  let counter = 0;

  const engine = () =>
    new RotationEngine({
      store,
      keyring,
      owner: 'test-engine',
      now: clock.now,
      random: () => 0.5,
      isOwnerDead: () => false,
      alerter: { alert: async (a) => void alerts.push(a) },
    });

  const value = async (name: string, stage: 'current' | 'previous' = 'current') =>
    (await secrets.reveal(name, { stage }, 'test')).value.reveal();

  const newSecret = async (sinks: unknown[], policy: Record<string, unknown> = {}) => {
    const name = `sinks/s${++counter}`;
    await secrets.create(
      { name, type: 'api-key', config: {}, policy: { ...policy, sinks } },
      'test',
    );
    return name;
  };

  /**
   * One run of the scheduler (what `rotor run --once` and the server's loop do):
   * the only way a creation or a put is published, as the service only queues.
   */
  const publishedFor = async (name: string) =>
    (await engine().runOnce()).published.filter((p) => p.secret === name);

  const summaryOf = (published: Awaited<ReturnType<typeof publishedFor>>) =>
    published.map((p) => [p.sink, p.version, p.event, p.result]);

  /** The outbox rows as committed, read past the store's own code. */
  const deliveryRows = async (name: string) =>
    (
      await location.query<{ version: number; sink_index: number; event: string }>(
        'select d.version, d.sink_index, d.event from sink_deliveries d join secrets s on s.id = d.secret_id where s.name = ? order by d.version, d.sink_index',
        [name],
      )
    ).map((r) => [Number(r.version), Number(r.sink_index), r.event]);

  /** A fresh directory per test, so leftovers of one test cannot satisfy another. */
  const workDir = () => mkdtempSync(join(dir, 'case-'));

  beforeAll(async () => {
    location = await createStoreLocation(dialect, 'sinks');
    clock = new TestClock();
    store = await location.open(clock.now);
    secrets = new SecretService(store, keyring, clock.now);
    receiver = new WebhookReceiver();
    await receiver.start();
    dir = mkdtempSync(join(tmpdir(), 'rotor-sinks-'));
  });

  afterAll(async () => {
    await receiver?.stop();
    await store?.close();
    await location?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    alerts = [];
    receiver.status = 204;
  });

  it('writes each file format atomically at creation and promotion, 0600 unless a mode is given', async () => {
    const at = workDir();
    const paths = {
      raw: join(at, 'api-key'),
      env: join(at, 'api-key.env'),
      json: join(at, 'api-key.json'),
      shared: join(at, 'shared-key'),
    };
    const expectPublished = async (version: number) => {
      const published = await value(name);
      expect(readFileSync(paths.raw, 'utf8')).toBe(published);
      expect(readFileSync(paths.shared, 'utf8')).toBe(published);
      expect(readFileSync(paths.env, 'utf8')).toBe(`ROTOR_SECRET_VALUE='${published}'\n`);
      expect(JSON.parse(readFileSync(paths.json, 'utf8'))).toEqual({
        name,
        version,
        value: published,
      });
      for (const path of [paths.raw, paths.env, paths.json])
        expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(paths.shared).mode & 0o777).toBe(0o640);
      expect(readdirSync(at).sort()).toEqual(
        ['api-key', 'api-key.env', 'api-key.json', 'shared-key'].sort(),
      );
    };
    // A file already in place, readable by all: replaced by a new inode, not rewritten in place.
    writeFileSync(paths.raw, 'stale');
    chmodSync(paths.raw, 0o644);
    const stale = statSync(paths.raw).ino;
    const name = await newSecret([
      { type: 'file', path: paths.raw, format: 'raw' },
      { type: 'file', path: paths.env, format: 'env' },
      { type: 'file', path: paths.json, format: 'json' },
      { type: 'file', path: paths.shared, format: 'raw', mode: '0640' },
    ]);
    expect(readFileSync(paths.raw, 'utf8')).toBe('stale');

    expect(summaryOf(await publishedFor(name))).toEqual(
      [0, 1, 2, 3].map((i) => [i, 1, 'secret.create', 'delivered']),
    );
    await expectPublished(1);
    const created = statSync(paths.raw).ino;
    expect(created).not.toBe(stale);

    const outcome = await engine().rotate(name, 'test');
    expect(outcome.result).toBe('promoted');
    await expectPublished(2);
    expect(statSync(paths.raw).ino).not.toBe(created);

    const deliveries = await store.rotations.outbox.list(name);
    expect(deliveries.map((d) => [d.sinkIndex, d.version, d.event, d.outcome, d.attempts])).toEqual(
      [
        ...[3, 2, 1, 0].map((i) => [i, 2, 'rotation.promoted', 'delivered', 0]),
        ...[3, 2, 1, 0].map((i) => [i, 1, 'secret.create', 'delivered', 0]),
      ],
    );
    const actions = (await store.auditEvents({ secret: name })).map((e) => e.action);
    expect(actions.filter((a) => a.startsWith('sink.'))).toEqual(Array(8).fill('sink.delivered'));
  });

  it('runs a command without a shell: event in its environment, value on stdin, never in argv', async () => {
    const at = workDir();
    const script = join(at, 'receive.sh');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `printf '%s\\n' "$@" > "${at}/argv"`,
        `env > "${at}/env"`,
        `cat > "${at}/stdin"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    process.env.ROTOR_TEST_CANARY = 'must-not-reach-the-child';
    try {
      const name = await newSecret([{ type: 'exec', command: [script, 'one arg', '$HOME'] }]);
      expect(summaryOf(await publishedFor(name))).toEqual([[0, 1, 'secret.create', 'delivered']]);
      expect(readFileSync(join(at, 'stdin'), 'utf8')).toBe(await value(name));
      const createdEnv = readFileSync(join(at, 'env'), 'utf8');
      expect(createdEnv).toContain('ROTOR_EVENT=secret.create\n');
      expect(createdEnv).toContain('ROTOR_VERSION=1\n');

      await engine().rotate(name, 'test');
      const v2 = await value(name);
      expect(readFileSync(join(at, 'stdin'), 'utf8')).toBe(v2);
      const argv = readFileSync(join(at, 'argv'), 'utf8');
      // No shell: `$HOME` reaches the program as written.
      expect(argv).toBe('one arg\n$HOME\n');
      const env = readFileSync(join(at, 'env'), 'utf8');
      expect(env).toContain(`ROTOR_SECRET=${name}\n`);
      expect(env).toContain('ROTOR_VERSION=2\n');
      expect(env).toContain('ROTOR_EVENT=rotation.promoted\n');
      expect(env).toContain(`ROTOR_AT=${clock.now().toISOString()}\n`);
      expect(env).not.toContain('ROTOR_TEST_CANARY');
      expect(env + argv).not.toContain(v2);
    } finally {
      delete process.env.ROTOR_TEST_CANARY;
    }
  });

  it('POSTs each event to a webhook without the value', async () => {
    const seen = receiver.bodies.length;
    const name = await newSecret([{ type: 'webhook', url: receiver.url }]);
    const createdAt = clock.now().toISOString();
    const v1 = await value(name);
    await publishedFor(name);
    clock.advance(MINUTE);
    await engine().rotate(name, 'test');
    const v2 = await value(name);
    expect(receiver.bodiesFor(name, seen)).toEqual([
      { event: 'secret.create', secret: name, version: 1, at: createdAt },
      { event: 'rotation.promoted', secret: name, version: 2, at: clock.now().toISOString() },
    ]);
    const raw = receiver.raw.slice(seen).join('');
    expect(raw).not.toContain(v1);
    expect(raw).not.toContain(v2);
  });

  it('publishes a put version at the next run, with the event secret.put', async () => {
    const path = join(workDir(), 'key.json');
    const seen = receiver.bodies.length;
    const name = await newSecret([
      { type: 'file', path, format: 'json' },
      { type: 'webhook', url: receiver.url },
    ]);
    await publishedFor(name);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ version: 1 });

    const put = `put-${randomUUID()}`;
    expect((await secrets.put(name, SecretValue.fromString(put), 'test')).number).toBe(2);
    // The service only queues: the file still holds version 1 until a run drains the outbox.
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ version: 1 });
    expect(summaryOf(await publishedFor(name))).toEqual([
      [0, 2, 'secret.put', 'delivered'],
      [1, 2, 'secret.put', 'delivered'],
    ]);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ name, version: 2, value: put });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(receiver.bodiesFor(name, seen).map((b) => [b.event, b.version])).toEqual([
      ['secret.create', 1],
      ['secret.put', 2],
    ]);
    expect(receiver.raw.slice(seen).join('')).not.toContain(put);
    expect(await deliveryRows(name)).toEqual([
      [1, 0, 'secret.create'],
      [1, 1, 'secret.create'],
      [2, 0, 'secret.put'],
      [2, 1, 'secret.put'],
    ]);
  });

  it('publishes the version a rollback makes current again', async () => {
    const path = join(workDir(), 'key');
    const name = await newSecret([{ type: 'file', path, format: 'raw' }]);
    const v1 = await value(name);
    await publishedFor(name);
    expect(readFileSync(path, 'utf8')).toBe(v1);
    await engine().rotate(name, 'test');
    expect(readFileSync(path, 'utf8')).toBe(await value(name));
    const outcome = await engine().rollback(name, 'test');
    expect(outcome.result).toBe('promoted');
    expect(readFileSync(path, 'utf8')).toBe(v1);
    expect(
      (await store.rotations.outbox.list(name)).map((d) => [d.version, d.event, d.outcome]),
    ).toEqual([
      [1, 'rollback.promoted', 'delivered'],
      [2, 'rotation.promoted', 'delivered'],
      [1, 'secret.create', 'delivered'],
    ]);
  });

  it('queues nothing for a dry run, which promotes nothing', async () => {
    const path = join(workDir(), 'key');
    const name = await newSecret([{ type: 'file', path, format: 'raw' }]);
    const queued = await store.rotations.outbox.list(name);
    expect(queued.map((d) => [d.version, d.event, d.outcome, d.attempts])).toEqual([
      [1, 'secret.create', null, 0],
    ]);
    expect((await engine().rotate(name, 'test', { dryRun: true })).result).toBe('dry_run');
    // Neither queued nor drained: the creation's delivery waits as it was.
    expect(await store.rotations.outbox.list(name)).toEqual(queued);
    expect(() => statSync(path)).toThrow(/ENOENT/);
  });

  it('keeps a failed delivery queued, alerts without the value, and delivers once the cause is fixed', async () => {
    const missing = join(workDir(), 'not-yet');
    const path = join(missing, 'key');
    const name = await newSecret([
      { type: 'file', path, format: 'raw' },
      { type: 'webhook', url: receiver.url },
    ]);
    receiver.status = 503;
    const outcome = await engine().rotate(name, 'test');
    expect(outcome.result).toBe('promoted');
    expect((await store.getSecret(name))?.failureCount).toBe(0);
    const v2 = await value(name);
    expect(alerts.map((a) => [a.secret, a.step, a.rotation, a.sink])).toEqual([
      [name, 'sink', 0, { index: 0, type: 'file' }],
      [name, 'sink', 0, { index: 1, type: 'webhook' }],
    ]);
    expect(alerts[0]?.message).toMatch(
      new RegExp(
        `^sink 0 \\(file\\) failed to publish version 2 \\(attempt 1\\): cannot write ${path}: its directory does not exist; retrying after `,
      ),
    );
    expect(alerts[1]?.message).toMatch(
      /webhook http:\/\/127\.0\.0\.1:\d+\/rotor-events answered HTTP 503/,
    );
    expect(JSON.stringify(alerts)).not.toContain(v2);
    // The creation's deliveries, never drained, came due first and were skipped: version 2 was current.
    const queued = await store.rotations.outbox.list(name);
    expect(queued.map((d) => [d.version, d.sinkIndex, d.attempts, d.outcome])).toEqual([
      [2, 1, 1, null],
      [2, 0, 1, null],
      [1, 1, 0, 'obsolete'],
      [1, 0, 0, 'obsolete'],
    ]);
    expect(queued[1]?.lastError).toBe(`cannot write ${path}: its directory does not exist`);

    // Within the backoff (30 s times the 0.75 jitter), nothing is tried again.
    clock.advance(20_000);
    expect(await publishedFor(name)).toEqual([]);

    mkdirSync(missing);
    receiver.status = 204;
    clock.advance(MINUTE);
    expect(summaryOf(await publishedFor(name))).toEqual([
      [0, 2, 'rotation.promoted', 'delivered'],
      [1, 2, 'rotation.promoted', 'delivered'],
    ]);
    expect(readFileSync(path, 'utf8')).toBe(v2);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(alerts.filter((a) => a.secret === name)).toHaveLength(2);
    const failures = (await store.auditEvents({ secret: name })).filter(
      (e) => e.action === 'sink.failed',
    );
    expect(failures.map((e) => [e.version, e.outcome])).toEqual([
      [2, 'failure'],
      [2, 'failure'],
    ]);
  });

  it('redacts the value from a failing command’s output and backs off exponentially', async () => {
    const at = workDir();
    const script = join(at, 'refuse.sh');
    writeFileSync(script, '#!/bin/sh\nv=$(cat)\necho "refusing $v" >&2\nexit 3\n', { mode: 0o755 });
    const name = await newSecret([{ type: 'exec', command: [script] }]);
    await engine().rotate(name, 'test');
    const v2 = await value(name);
    expect(alerts[0]?.message).toContain(
      `command ${script} exited with code 3: refusing [redacted]`,
    );
    const [first] = await store.rotations.outbox.list(name);
    expect(first?.lastError).toBe(`command ${script} exited with code 3: refusing [redacted]`);
    expect(first?.nextAttemptAt.getTime()).toBe(clock.now().getTime() + 22_500);

    clock.advance(MINUTE);
    const published = await publishedFor(name);
    expect(published).toMatchObject([
      { version: 2, result: 'failed', retryAt: new Date(clock.now().getTime() + 45_000) },
    ]);
    expect(JSON.stringify([alerts, published])).not.toContain(v2);
  });

  it('skips a delivery whose version was superseded instead of publishing an old value', async () => {
    const missing = join(workDir(), 'later');
    const path = join(missing, 'key');
    const name = await newSecret([{ type: 'file', path, format: 'raw' }]);
    await engine().rotate(name, 'test');
    expect(alerts).toHaveLength(1);
    mkdirSync(missing);
    await engine().rotate(name, 'test');
    const v3 = await value(name);
    expect(readFileSync(path, 'utf8')).toBe(v3);

    clock.advance(MINUTE);
    expect(await publishedFor(name)).toMatchObject([{ version: 2, result: 'obsolete' }]);
    expect(readFileSync(path, 'utf8')).toBe(v3);
    expect(
      (await store.rotations.outbox.list(name)).map((d) => [d.version, d.outcome, d.attempts]),
    ).toEqual([
      [3, 'delivered', 0],
      [2, 'obsolete', 1],
      [1, 'obsolete', 0],
    ]);
  });

  it('queues the deliveries in the change itself: a creation or promotion never commits without them', async () => {
    const closed = await closedPort();
    const name = await newSecret([
      { type: 'webhook', url: `http://127.0.0.1:${closed}/unreachable` },
      { type: 'exec', command: ['/nonexistent/rotor-hook'] },
    ]);
    const created = [
      [1, 0, 'secret.create'],
      [1, 1, 'secret.create'],
    ];
    expect(await deliveryRows(name)).toEqual(created);
    await engine().rotate(name, 'test');
    expect(await deliveryRows(name)).toEqual([
      ...created,
      [2, 0, 'rotation.promoted'],
      [2, 1, 'rotation.promoted'],
    ]);
    const promoted = (await store.auditEvents({ secret: name })).find(
      (e) => e.action === 'rotation.promoted',
    );
    expect(promoted).toBeDefined();
    expect(alerts.map((a) => a.message)).toEqual([
      expect.stringMatching(
        /webhook http:\/\/127\.0\.0\.1:\d+\/unreachable: unreachable \(ECONNREFUSED\)/,
      ),
      expect.stringMatching(/command \/nonexistent\/rotor-hook not found/),
    ]);
  });

  it('deletes deliveries a week after they finished, never one still to make, and keeps their audit events', async () => {
    const closed = await closedPort();
    const name = await newSecret([
      { type: 'file', path: join(workDir(), 'kept'), format: 'raw' },
      { type: 'webhook', url: `http://127.0.0.1:${closed}/unreachable` },
    ]);
    await publishedFor(name);
    const rows = async () =>
      (await store.rotations.outbox.list(name)).map((d) => [d.sinkIndex, d.outcome]);
    const both = [
      [1, null],
      [0, 'delivered'],
    ];
    expect(await rows()).toEqual(both);
    clock.advance(6 * DAY);
    await publishedFor(name);
    expect(await rows()).toEqual(both);
    clock.advance(DAY + MINUTE);
    await publishedFor(name);
    // The webhook's delivery, still failing, is older still and stays queued.
    expect(await rows()).toEqual([[1, null]]);
    const actions = (await store.auditEvents({ secret: name })).map((e) => e.action);
    expect(actions.filter((a) => a === 'sink.delivered')).toHaveLength(1);
    expect(actions.filter((a) => a === 'sink.failed').length).toBeGreaterThanOrEqual(3);
  });
});
