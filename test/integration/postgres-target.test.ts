import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RotorError } from '../../src/core/errors.js';
import { newPassword } from '../../src/rotators/credential.js';
import { PostgresTarget } from '../../src/rotators/postgres/postgres-target.js';
import { scramSha256Verifier } from '../../src/rotators/postgres/scram-verifier.js';
import { type ScramPostgres, startScramPostgres } from '../support/scram-postgres.js';

const HOST = '127.0.0.1';
const DATABASE = 'postgres';

let cluster: ScramPostgres;
let su: pg.Client;
let target: PostgresTarget;
const admin = { username: 'target_admin', password: newPassword() };

beforeAll(async () => {
  cluster = await startScramPostgres({ logStatements: true });
  su = new pg.Client({ connectionString: cluster.adminUrl });
  await su.connect();
  await su.query(
    `CREATE ROLE target_admin LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(scramSha256Verifier(admin.password))}`,
  );
  target = new PostgresTarget({
    host: HOST,
    port: cluster.port,
    database: DATABASE,
    sslmode: 'disable',
  });
});

afterAll(async () => {
  await su?.end();
  await cluster?.stop();
});

/** A login the admin may manage (PostgreSQL 16 and later insist on it being the creator). */
async function createLogin(role: string, password: string): Promise<void> {
  const asAdmin = new pg.Client({
    host: HOST,
    port: cluster.port,
    database: DATABASE,
    user: admin.username,
    password: admin.password,
  });
  await asAdmin.connect();
  try {
    await asAdmin.query(
      `CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(scramSha256Verifier(password))}`,
    );
  } finally {
    await asAdmin.end();
  }
}

async function canLogin(username: string, password: string): Promise<boolean> {
  try {
    await target.login({ username, password }, 'test');
    return true;
  } catch (error) {
    if (error instanceof RotorError && error.code === 'ERR_TARGET_AUTH') return false;
    throw error;
  }
}

async function roleExists(role: string): Promise<boolean> {
  const { rowCount } = await su.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  return rowCount === 1;
}

describe('PostgresTarget.changePassword', () => {
  it('changes an existing role in one round trip: lock, ALTER ROLE and COMMIT in one query', async () => {
    const password = newPassword();
    await createLogin('one_trip', newPassword());
    await target.changePassword([admin], { role: 'one_trip', password }, 'test');
    expect(await canLogin('one_trip', password)).toBe(true);
    const log = await readFile(cluster.logFile, 'utf8');
    const statements = log.split('\n').filter((line) => line.includes('"one_trip" PASSWORD'));
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(
      /statement: BEGIN; SET LOCAL lock_timeout = '20s'; SELECT pg_advisory_xact_lock\(hashtext\('rotor:role:one_trip'\)\); ALTER ROLE "one_trip" PASSWORD 'SCRAM-SHA-256\$4096:[^']+'; COMMIT$/,
    );
    expect(log).not.toContain(password);
  });

  it('waits for the advisory lock every Rotor version takes on the role', async () => {
    const password = newPassword();
    await createLogin('locked', newPassword());
    const holder = new pg.Client({ connectionString: cluster.adminUrl });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtext('rotor:role:' || $1))", ['locked']);
      let done = false;
      const change = target
        .changePassword([admin], { role: 'locked', password }, 'test')
        .then(() => {
          done = true;
        });
      await sleep(300);
      expect(done).toBe(false);
      expect(await canLogin('locked', password)).toBe(false);
      await holder.query("SELECT pg_advisory_unlock(hashtext('rotor:role:' || $1))", ['locked']);
      await change;
      expect(await canLogin('locked', password)).toBe(true);
    } finally {
      await holder.end();
    }
  });

  it('leaves a missing role missing when asked to skip it, and fails otherwise', async () => {
    await target.changePassword(
      [admin],
      { role: 'never_made', password: newPassword(), skipIfMissing: true },
      'test',
    );
    expect(await roleExists('never_made')).toBe(false);
    const failure = await target
      .changePassword([admin], { role: 'never_made', password: newPassword() }, 'set it')
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(RotorError);
    expect((failure as RotorError).code).toBe('ERR_TARGET_REJECTED');
    expect((failure as RotorError).message).toMatch(
      /^set it: role "never_made" does not exist \(SQLSTATE 42704\)/,
    );
    expect(await roleExists('never_made')).toBe(false);
  });

  it('creates a missing role like its model, then sets its password', async () => {
    await su.query('CREATE ROLE model_group NOLOGIN');
    await su.query('GRANT model_group TO target_admin WITH ADMIN OPTION');
    await createLogin('model', newPassword());
    await su.query('GRANT model_group TO model');
    const password = newPassword();
    await target.changePassword(
      [admin],
      { role: 'model_b', password, createLike: 'model' },
      'test',
    );
    expect(await canLogin('model_b', password)).toBe(true);
    const { rows } = await su.query(
      `SELECT g.rolname FROM pg_auth_members m
         JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
        WHERE u.rolname = 'model_b'`,
    );
    expect(rows.map((row) => row.rolname)).toEqual(['model_group']);
  });

  it('closes its connections without holding the rotation up for the goodbye', async () => {
    const password = newPassword();
    await createLogin('closing', password);
    for (let i = 0; i < 5; i++) await target.login({ username: 'closing', password }, 'test');
    await target.changePassword([admin], { role: 'closing', password }, 'test');
    const sessions = async () =>
      (
        await su.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'rotor'",
        )
      ).rows[0]?.n as number;
    const deadline = Date.now() + 5_000;
    while ((await sessions()) > 0 && Date.now() < deadline) await sleep(25);
    expect(await sessions()).toBe(0);
  });
});
