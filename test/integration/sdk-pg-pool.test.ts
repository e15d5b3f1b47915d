import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../../bench/zero-downtime/targets.js';
import { createTargetSecrets } from '../../bench/zero-downtime-sdk/target-secrets.js';
import { ApiClient, secretPath } from '../../src/sdk/api-client.js';
import { createClient, type RotorClient, type RotorClientOptions } from '../../src/sdk/index.js';
import { pgPool, type RefusedLogin, type RotorPgPool } from '../../src/sdk/pg-pool.js';
import { startTestServer, type TestServer } from '../support/rotor-server.js';
import { runCli } from '../support/run-cli.js';

let server: TestServer;
let admin: ApiClient;
const targets: Target[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startTestServer();
  admin = new ApiClient({ url: server.url, token: server.adminToken });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  for (const target of targets) await target.stop();
  await server?.close();
});

async function credentialSecret(strategy: 'alternating' | 'single'): Promise<{
  name: string;
  target: Target;
}> {
  const target = await startTarget(`postgres-${strategy}`);
  targets.push(target);
  const name = `sdk/pg-${strategy}-${randomBytes(3).toString('hex')}`;
  await createTargetSecrets(admin, target, name, '1h');
  return { name, target };
}

function rotorClient(options: Partial<RotorClientOptions> = {}): RotorClient {
  const client = createClient({ url: server.url, token: server.adminToken, ...options });
  cleanups.push(() => client.close());
  return client;
}

function poolFor(client: RotorClient, name: string, refused: RefusedLogin[] = []): RotorPgPool {
  const pool = pgPool(client, name, {
    max: 4,
    application_name: name.replaceAll('/', '_'),
    onLoginRefused: (login) => refused.push(login),
  });
  cleanups.push(() => pool.end());
  return pool;
}

async function rotate(name: string): Promise<number> {
  const { body } = await admin.request<{ result: string; toVersion: number; error: unknown }>(
    'POST',
    secretPath(name, 'rotate'),
  );
  expect(body).toMatchObject({ result: 'promoted' });
  return body.toVersion;
}

/** The pool's sessions as the server sees them, through a superuser connection. */
async function sessions(target: Target, pool: RotorPgPool): Promise<string[]> {
  const applicationName = (pool.options as { application_name: string }).application_name;
  const su = new pg.Client({
    host: '127.0.0.1',
    port: target.config.port as number,
    database: 'postgres',
    user: target.admin?.username,
    password: target.admin?.password,
  });
  await su.connect();
  try {
    const { rows } = await su.query<{ usename: string }>(
      'SELECT usename FROM pg_stat_activity WHERE application_name = $1 ORDER BY usename',
      [applicationName],
    );
    return rows.map((row) => row.usename);
  } finally {
    await su.end();
  }
}

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, ms = 5_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms`);
    await sleep(25);
  }
}

describe('pgPool, alternating strategy', () => {
  it('logs in with the current login, keeps queries working across rotations and retires old connections', async () => {
    const { name, target } = await credentialSecret('alternating');
    const client = rotorClient();
    const refused: RefusedLogin[] = [];
    const pool = poolFor(client, name, refused);
    const user = async () =>
      (await pool.query<{ user: string }>('SELECT current_user AS user')).rows[0]?.user;
    expect(await user()).toBe(target.initial.username);
    await client.subscribed();

    let running = true;
    let queries = 0;
    const failures: unknown[] = [];
    const load = Array.from({ length: 4 }, async () => {
      while (running) {
        await pool.query('SELECT 1').then(
          () => queries++,
          (error: unknown) => failures.push(error),
        );
      }
    });
    // A query in flight over a rotation finishes on its connection.
    const long = pool.query('SELECT pg_sleep(0.5), current_user AS user');
    const users: string[] = [];
    for (let i = 0; i < 3; i++) {
      const version = await rotate(name);
      await until(
        () => client.get(name),
        (entry) => entry.version === version,
      );
      const expected = i % 2 === 0 ? `${target.initial.username}_b` : target.initial.username;
      users.push((await until(user, (u) => u === expected)) as string);
    }
    expect((await long).rows[0].user).toBe(target.initial.username);
    running = false;
    await Promise.all(load);

    expect(failures).toEqual([]);
    expect(queries).toBeGreaterThan(20);
    expect(refused).toEqual([]);
    expect(users).toEqual([
      `${target.initial.username}_b`,
      target.initial.username,
      `${target.initial.username}_b`,
    ]);
    // Connections made with an older version left the pool: only the current login remains.
    const remaining = await until(
      () => sessions(target, pool),
      (names) => names.every((u) => u === `${target.initial.username}_b`),
    );
    expect(remaining.length).toBeGreaterThan(0);
  });

  it('closes idle connections made with the old credential as soon as the rotation is announced', async () => {
    const { name, target } = await credentialSecret('alternating');
    const client = rotorClient();
    const pool = poolFor(client, name);
    await client.subscribed();
    const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    for (const connection of held) connection.release();
    expect(pool.idleCount).toBe(3);
    expect(await sessions(target, pool)).toEqual(Array(3).fill(target.initial.username));
    await rotate(name);
    await until(
      () => sessions(target, pool),
      (names) => names.length === 0,
    );
    expect(pool.totalCount).toBe(0);
  });
});

describe('pgPool, single strategy', () => {
  it('a login refused after the secret moved on is retried once with the value read anew', async () => {
    const { name, target } = await credentialSecret('single');
    // No event stream and a long TTL: the pool only learns of the rotation from the refusal.
    const client = rotorClient({ events: false, ttlMs: 600_000 });
    const refused: RefusedLogin[] = [];
    const pool = poolFor(client, name, refused);
    await pool.query('SELECT 1');
    const version = await rotate(name);
    const plain = new pg.Client({
      host: '127.0.0.1',
      port: target.initial.port,
      database: 'postgres',
      user: target.initial.username,
      password: target.initial.password,
    });
    await expect(plain.connect()).rejects.toMatchObject({ code: '28P01' });
    await plain.end().catch(() => undefined);

    // The idle connection from before still works (sessions survive a password change).
    const results = await Promise.all([
      pool.query('SELECT 1 AS one'),
      pool.query('SELECT pg_sleep(0.1)'),
      pool.query('SELECT 2 AS two'),
    ]);
    expect(results).toHaveLength(3);
    // The two new logins were refused with version 1, each retried once, and went through.
    expect(refused.length).toBeGreaterThan(0);
    for (const login of refused) {
      expect(login.version).toBe(1);
      expect((login.error as { code?: string }).code).toBe('28P01');
    }
    expect((await client.get(name)).version).toBe(version);
  });

  it('in the window between apply and promote, a refused login retries with the pending value', async () => {
    const { name, target } = await credentialSecret('single');
    // A rotation that dies right after apply: the target takes only the pending password
    // while `current` still holds the old one, until the rotation is resumed.
    const crashed = await runCli(['rotate', name], {
      env: { ...server.cliEnv, ROTOR_FAILPOINT: 'after:apply' },
    });
    expect(crashed.signal).toBe('SIGKILL');
    const { body: versions } = await admin.request<{ version: number; stages: string[] }[]>(
      'GET',
      secretPath(name, 'versions'),
    );
    expect(versions.find((v) => v.stages.includes('pending'))?.version).toBe(2);

    const client = rotorClient({ ttlMs: 600_000 });
    const refused: RefusedLogin[] = [];
    const pool = poolFor(client, name, refused);
    const user = await pool.query<{ user: string }>('SELECT current_user AS user');
    expect(user.rows[0]?.user).toBe(target.initial.username);
    expect(refused.map((r) => r.version)).toEqual([1]);
    // Later logins go straight to the pending value.
    const more = await Promise.all(Array.from({ length: 4 }, () => pool.connect()));
    for (const connection of more) connection.release(true);
    expect(refused).toHaveLength(1);

    // The rotation resumes and promotes version 2: the pool follows without a refusal.
    await client.subscribed();
    const resumed = await runCli(['run', '--once'], { env: server.cliEnv });
    expect(resumed.code).toBe(0);
    await until(
      () => client.get(name),
      (entry) => entry.version === 2,
    );
    await pool.query('SELECT 1');
    expect(refused).toHaveLength(1);
  });
});
