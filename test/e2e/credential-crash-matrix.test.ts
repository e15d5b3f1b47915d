import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramSha256Verifier } from '../../src/rotators/postgres/scram-verifier.js';
import { createSandbox, describeResult, type RotorSandbox } from '../support/rotor-sandbox.js';
import { type ScramPostgres, startScramPostgres } from '../support/scram-postgres.js';

const STEPS = ['create', 'apply', 'verify', 'promote'] as const;
const SCENARIOS = ['postgres-alternating', 'postgres-single', 'redis'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Credential {
  readonly username: string;
  readonly password: string;
}

const suffix = `${process.pid}_${randomBytes(2).toString('hex')}`;
const secretName = (scenario: Scenario, step: string) => `crash/${scenario}/${step}`;
const loginName = (scenario: Scenario, step: string) =>
  `${scenario.replace('-', '_')}_${step}_${suffix}`;

/**
 * A database credential rotation SIGKILLed right after each committed step,
 * for PostgreSQL (both strategies, on a cluster that checks passwords) and
 * Redis, then resumed by one `run --once`: the target must accept `current`.
 */
describe('credential rotations killed at every step, then resumed', () => {
  let sandbox: RotorSandbox;
  let cluster: ScramPostgres;
  let redis: Redis;
  const initial = new Map<string, string>();

  const pgLogin = async (c: Credential) => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: cluster.port,
      database: 'postgres',
      user: c.username,
      password: c.password,
    });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === '28P01') return false;
      throw error;
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  const redisLogin = async (c: Credential) => {
    const client = new Redis({
      host: '127.0.0.1',
      port: 6379,
      username: c.username,
      password: c.password,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
    });
    try {
      await client.connect();
      await client.ping();
      return true;
    } catch (error) {
      if (/WRONGPASS/.test((error as Error).message)) return false;
      throw error;
    } finally {
      client.disconnect();
    }
  };

  const accepts = (scenario: Scenario, c: Credential) =>
    scenario === 'redis' ? redisLogin(c) : pgLogin(c);

  beforeAll(async () => {
    cluster = await startScramPostgres();
    redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    sandbox = await createSandbox('sqlite', 'credential-crash');
    const superuser = new pg.Client({ connectionString: cluster.adminUrl });
    await superuser.connect();
    const admin = { username: 'rotor_admin', password: randomBytes(18).toString('base64url') };
    await superuser.query(
      `CREATE ROLE rotor_admin LOGIN CREATEROLE PASSWORD '${scramSha256Verifier(admin.password)}'`,
    );
    await superuser.query('CREATE ROLE crash_users NOLOGIN');
    await superuser.query('GRANT crash_users TO rotor_admin WITH ADMIN OPTION');
    const admin1 = await sandbox.rotor(
      ['secret', 'create', 'crash/admin', '--type', 'password', '--manual', '--value-stdin'],
      { stdin: JSON.stringify(admin) },
    );
    expect(admin1.code, describeResult(admin1)).toBe(0);

    const creations: Array<Promise<unknown>> = [];
    for (const scenario of SCENARIOS) {
      for (const step of STEPS) {
        const username = loginName(scenario, step);
        const password = randomBytes(18).toString('base64url');
        initial.set(secretName(scenario, step), password);
        let config: Record<string, unknown>;
        let value: Record<string, unknown>;
        if (scenario === 'redis') {
          await redis.call('ACL', 'SETUSER', username, 'on', `>${password}`, '~*', '+ping');
          config = { host: '127.0.0.1', port: 6379, username };
          value = { engine: 'redis', host: '127.0.0.1', port: 6379, username, password };
        } else {
          await superuser.query(
            `CREATE ROLE ${username} LOGIN PASSWORD '${scramSha256Verifier(password)}' IN ROLE crash_users`,
          );
          const strategy = scenario === 'postgres-alternating' ? 'alternating' : 'single';
          config = {
            host: '127.0.0.1',
            port: cluster.port,
            database: 'postgres',
            username,
            strategy,
            adminSecret: 'crash/admin',
          };
          value = {
            engine: 'postgres',
            host: '127.0.0.1',
            port: cluster.port,
            database: 'postgres',
            username,
            password,
          };
        }
        creations.push(
          sandbox
            .rotor(
              [
                'secret',
                'create',
                secretName(scenario, step),
                '--type',
                scenario === 'redis' ? 'redis' : 'postgres',
                '--config',
                JSON.stringify(config),
                '--value-stdin',
                '--manual',
              ],
              { stdin: JSON.stringify(value) },
            )
            .then((r) => expect(r.code, describeResult(r)).toBe(0)),
        );
      }
    }
    await Promise.all(creations);
    await superuser.end();
  }, 240_000);

  afterAll(async () => {
    for (const step of STEPS)
      await redis?.call('ACL', 'DELUSER', loginName('redis', step)).catch(() => undefined);
    redis?.disconnect();
    await sandbox?.destroy();
    await cluster?.stop();
  });

  it('kills every rotation right after its step, and one run --once finishes them all', async () => {
    const killed = await Promise.all(
      SCENARIOS.flatMap((scenario) =>
        STEPS.map((step) =>
          sandbox.rotor(['rotate', secretName(scenario, step)], {
            env: { ROTOR_FAILPOINT: `after:${step}` },
          }),
        ),
      ),
    );
    for (const result of killed) expect(result.signal, describeResult(result)).toBe('SIGKILL');

    const resumed = await sandbox.rotor(['run', '--once', '--json']);
    expect(resumed.code, describeResult(resumed)).toBe(0);

    for (const scenario of SCENARIOS) {
      for (const step of STEPS) {
        const name = secretName(scenario, step);
        const history = await sandbox.history(name);
        expect(
          history.filter((v) => v.stages.includes('current')),
          `${name}: one current`,
        ).toHaveLength(1);
        expect(
          history.some((v) => v.stages.includes('pending')),
          `${name}: no pending`,
        ).toBe(false);
        const current = JSON.parse(await sandbox.value(name)) as Credential;
        expect(current.password, `${name}: rotated`).not.toBe(initial.get(name));
        expect(await accepts(scenario, current), `${name}: target accepts current`).toBe(true);
        const previous = JSON.parse(await sandbox.value(name, 'previous')) as Credential;
        // Single has one login: its old password is gone. The others keep the old value valid through grace.
        expect(await accepts(scenario, previous), `${name}: previous during grace`).toBe(
          scenario !== 'postgres-single',
        );
      }
    }
    const verify = await sandbox.rotor(['audit', 'verify']);
    expect(verify.code, describeResult(verify)).toBe(0);
  }, 600_000);

  it("rotor check finds a password changed behind Rotor's back", async () => {
    const name = secretName('postgres-single', 'promote');
    const ok = await sandbox.rotor(['check', name, '--json']);
    expect(ok.code, describeResult(ok)).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject([{ name, status: 'accepted' }]);

    const superuser = new pg.Client({ connectionString: cluster.adminUrl });
    await superuser.connect();
    await superuser.query(
      `ALTER ROLE ${loginName('postgres-single', 'promote')} PASSWORD '${scramSha256Verifier('changed-by-hand')}'`,
    );
    await superuser.end();
    const drifted = await sandbox.rotor(['check', name, '--json']);
    expect(drifted.code, describeResult(drifted)).toBe(1);
    expect(JSON.parse(drifted.stdout)).toMatchObject([{ name, status: 'rejected' }]);
    // The alert is logged as one JSON line; the command's own error is the last line.
    expect(drifted.stderr.trim().split('\n').at(-1)).toMatch(
      /^rotor: 1 secret\(s\) failed the check/,
    );
    expect(drifted.stderr).not.toContain('changed-by-hand');
  }, 120_000);
});
