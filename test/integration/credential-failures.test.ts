import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/core/secret-value.js';
import type { Alert } from '../../src/engine/alerter.js';
import { checkDrift } from '../../src/engine/drift-check.js';
import { RotationEngine } from '../../src/engine/rotation-engine.js';
import { scramSha256Verifier } from '../../src/rotators/postgres/scram-verifier.js';
import { SecretService } from '../../src/service/secret-service.js';
import type { Store } from '../../src/store/store.js';
import { type ScramPostgres, startScramPostgres } from '../support/scram-postgres.js';
import { createStoreLocation, type StoreLocation, testKeyring } from '../support/test-stores.js';

/**
 * How a PostgreSQL credential rotation fails, through the engine, against a
 * cluster that checks passwords: a wrong admin credential, an unreachable
 * target, a password changed behind Rotor's back.
 */
describe('credential rotation failures', () => {
  const keyring = testKeyring();
  let cluster: ScramPostgres;
  let superuser: pg.Client;
  let location: StoreLocation;
  let store: Store;
  let secrets: SecretService;
  let engine: RotationEngine;
  const alerts: Alert[] = [];
  let nowMs = Date.now();
  const now = () => new Date(nowMs);
  const admin = { username: 'rotor_admin', password: randomBytes(18).toString('base64url') };

  const createRole = async (name: string) => {
    const password = randomBytes(18).toString('base64url');
    await superuser.query(`CREATE ROLE ${name} LOGIN PASSWORD '${scramSha256Verifier(password)}'`);
    return password;
  };

  const createSecret = async (
    name: string,
    role: string,
    password: string,
    config: Record<string, unknown>,
    policy = {},
  ) =>
    secrets.create(
      {
        name,
        type: 'postgres',
        config: {
          host: '127.0.0.1',
          port: cluster.port,
          database: 'postgres',
          username: role,
          strategy: 'single',
          ...config,
        },
        value: SecretValue.fromString(
          JSON.stringify({
            engine: 'postgres',
            host: '127.0.0.1',
            port: cluster.port,
            database: 'postgres',
            username: role,
            password,
          }),
        ),
        policy: { schedule: '1h', ...policy },
      },
      'test',
    );

  const login = async (user: string, password: string) => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: cluster.port,
      database: 'postgres',
      user,
      password,
    });
    try {
      await client.connect();
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  beforeAll(async () => {
    cluster = await startScramPostgres();
    superuser = new pg.Client({ connectionString: cluster.adminUrl });
    await superuser.connect();
    await superuser.query(
      `CREATE ROLE rotor_admin LOGIN CREATEROLE PASSWORD '${scramSha256Verifier(admin.password)}'`,
    );
    location = await createStoreLocation('sqlite', 'credential-failures');
    store = await location.open(now);
    secrets = new SecretService(store, keyring, now);
    engine = new RotationEngine({
      store,
      keyring,
      now,
      owner: 'test',
      alerter: { alert: async (a) => void alerts.push(a) },
    });
    await secrets.create(
      {
        name: 'pg/admin-wrong',
        type: 'password',
        value: SecretValue.fromString(JSON.stringify({ ...admin, password: 'not-the-password' })),
        policy: { manual: true },
      },
      'test',
    );
  }, 120_000);

  afterAll(async () => {
    await superuser?.end();
    await store?.close();
    await location?.destroy();
    await cluster?.stop();
  });

  it('fails at apply with a wrong admin credential, rolls back, alerts, and parks the secret after maxFailures', async () => {
    const password = await createRole('wrong_admin_app');
    await createSecret(
      'pg/wrong-admin',
      'wrong_admin_app',
      password,
      { adminSecret: 'pg/admin-wrong' },
      { maxFailures: 2 },
    );
    expect(await login('wrong_admin_app', 'nope')).toBe(false);

    const first = await engine.rotate('pg/wrong-admin', 'test');
    expect(first.result).toBe('rolled_back');
    expect(first.error).toMatch(/ERR_TARGET_AUTH|password authentication failed/);
    expect(first.error).not.toContain('not-the-password');
    expect(await login('wrong_admin_app', password)).toBe(true);
    const events = (await store.auditEvents({ secret: 'pg/wrong-admin' })).map(
      (e) => `${e.action}:${e.outcome}`,
    );
    expect(events).toContain('rotation.failed:failure');
    expect(alerts.at(-1)).toMatchObject({ secret: 'pg/wrong-admin', needsAttention: false });

    await engine.rotate('pg/wrong-admin', 'test');
    expect(await store.getSecret('pg/wrong-admin')).toMatchObject({
      state: 'needs-attention',
      failureCount: 2,
      nextRotationAt: null,
    });
    expect(alerts.at(-1)).toMatchObject({ needsAttention: true });
    expect(await login('wrong_admin_app', password)).toBe(true);
  });

  it('fails cleanly while the target is unreachable, and resumes once it is back', async () => {
    const password = await createRole('unreachable_app');
    await createSecret('pg/unreachable', 'unreachable_app', password, { port: 1 });
    const down = await engine.rotate('pg/unreachable', 'test');
    // Apply failed and so did the rollback (nothing can be reached): the rotation waits, leased off until its backoff ends.
    expect(down.result).toBe('stalled');
    expect(down.error).toMatch(/unreachable|ECONNREFUSED|connect/i);
    expect(down.error).not.toContain(password);
    expect(
      (await engine.runOnce()).outcomes.some((o) => o.rotation.secretName === 'pg/unreachable'),
    ).toBe(false);
    await expect(engine.rotate('pg/unreachable', 'test')).rejects.toMatchObject({
      code: 'ERR_ROTATION_IN_PROGRESS',
    });

    // The target is back (the config now points at the running cluster) and the backoff is over.
    const secret = await store.getSecret('pg/unreachable');
    await location.query('update secrets set config = ? where name = ?', [
      JSON.stringify({ ...secret?.config, port: cluster.port }),
      'pg/unreachable',
    ]);
    nowMs += 2 * 3_600_000;
    const resumed = await engine.runOnce();
    expect(
      resumed.outcomes
        .filter((o) => o.rotation.secretName === 'pg/unreachable')
        .map((o) => o.result),
    ).toContain('rolled_back');
    expect(await login('unreachable_app', password)).toBe(true);
    const versions = await store.listVersions('pg/unreachable');
    expect(versions.filter((v) => v.stage === 'pending')).toEqual([]);

    const up = await engine.rotate('pg/unreachable', 'test');
    expect(up.result).toBe('promoted');
    const current = JSON.parse(
      (await secrets.reveal('pg/unreachable', { stage: 'current' }, 'test')).value.reveal(),
    );
    expect(await login('unreachable_app', current.password)).toBe(true);
    expect(await login('unreachable_app', password)).toBe(false);
  });

  it('finds a password changed behind its back with a drift check', async () => {
    const password = await createRole('drift_app');
    await createSecret('pg/drift', 'drift_app', password, {});
    const [ok] = await checkDrift(
      store,
      keyring,
      { alert: async (a) => void alerts.push(a) },
      ['pg/drift'],
      'test',
    );
    expect(ok?.status).toBe('accepted');
    await superuser.query(
      `ALTER ROLE drift_app PASSWORD '${scramSha256Verifier('changed-by-hand')}'`,
    );
    const [drifted] = await checkDrift(
      store,
      keyring,
      { alert: async (a) => void alerts.push(a) },
      ['pg/drift'],
      'test',
    );
    expect(drifted?.status).toBe('rejected');
    expect(drifted?.message).not.toContain(password);
    expect(alerts.at(-1)).toMatchObject({ secret: 'pg/drift', step: 'check' });
  });
});
