import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { scramSha256Verifier } from '../../src/rotators/postgres/scram-verifier.js';
import { startScramPostgres } from '../../test/support/scram-postgres.js';

export type ScenarioName =
  | 'postgres-alternating'
  | 'postgres-single'
  | 'mariadb-alternating'
  | 'redis-dual';
export const SCENARIOS: readonly ScenarioName[] = [
  'postgres-alternating',
  'postgres-single',
  'mariadb-alternating',
  'redis-dual',
];

export interface Credential {
  readonly host: string;
  readonly port: number;
  readonly database?: string;
  readonly username: string;
  readonly password: string;
}

/** A real server set up for one scenario: what Rotor manages, and how a client logs in. */
export interface Target {
  readonly type: 'postgres' | 'mysql' | 'redis';
  readonly config: Record<string, unknown>;
  /** The credential the application starts with (the secret's first version). */
  readonly initial: Credential & { engine: string };
  /** JSON for the admin secret, when the strategy needs one. */
  readonly admin?: { username: string; password: string };
  /** Opens a fresh connection, runs one query, closes; throws `AuthFailure` when the password is refused. */
  login(credential: Credential): Promise<void>;
  /** Raw rate baseline (PostgreSQL only): change the password as admin, then log in with it. */
  rawRotate?(password: string): Promise<void>;
  stop(): Promise<void>;
}

export class AuthFailure extends Error {}

const unique = () => `${process.pid}_${randomBytes(3).toString('hex')}`;

export async function startTarget(scenario: ScenarioName): Promise<Target> {
  if (scenario.startsWith('postgres'))
    return postgresTarget(scenario === 'postgres-alternating' ? 'alternating' : 'single');
  if (scenario === 'mariadb-alternating') return mariadbTarget();
  return redisTarget();
}

async function postgresTarget(strategy: 'alternating' | 'single'): Promise<Target> {
  const cluster = await startScramPostgres();
  const superuser = new pg.Client({ connectionString: cluster.adminUrl });
  await superuser.connect();
  const admin = { username: 'rotor_admin', password: randomBytes(18).toString('base64url') };
  const app = { username: 'app', password: randomBytes(18).toString('base64url') };
  await superuser.query(
    `CREATE ROLE rotor_admin LOGIN CREATEROLE PASSWORD '${scramSha256Verifier(admin.password)}'`,
  );
  await superuser.query('CREATE ROLE app_users NOLOGIN');
  await superuser.query(
    `CREATE ROLE app LOGIN PASSWORD '${scramSha256Verifier(app.password)}' IN ROLE app_users`,
  );
  await superuser.query('GRANT app_users TO rotor_admin WITH ADMIN OPTION');
  await superuser.end();
  const host = '127.0.0.1';
  const login = async (c: Credential) => {
    const client = new pg.Client({
      host,
      port: cluster.port,
      database: 'postgres',
      user: c.username,
      password: c.password,
      connectionTimeoutMillis: 5_000,
    });
    try {
      await client.connect();
      await client.query('SELECT 1');
    } catch (error) {
      if ((error as { code?: string }).code === '28P01') throw new AuthFailure(c.username);
      throw error;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  return {
    type: 'postgres',
    config: {
      host,
      port: cluster.port,
      database: 'postgres',
      username: 'app',
      strategy,
      adminSecret: 'bench/admin',
    },
    initial: { engine: 'postgres', host, port: cluster.port, database: 'postgres', ...app },
    admin,
    login,
    async rawRotate(password) {
      const client = new pg.Client({
        host,
        port: cluster.port,
        database: 'postgres',
        user: admin.username,
        password: admin.password,
      });
      await client.connect();
      try {
        await client.query(`ALTER ROLE app PASSWORD '${scramSha256Verifier(password)}'`);
      } finally {
        await client.end();
      }
      await login({ host, port: cluster.port, username: 'app', password });
    },
    stop: () => cluster.stop(),
  };
}

async function mariadbTarget(): Promise<Target> {
  const root = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  const suffix = unique();
  const database = `rotor_bench_${suffix}`;
  const admin = {
    username: `rotor_admin_${suffix}`,
    password: randomBytes(18).toString('base64url'),
  };
  const app = { username: `app_${suffix}`, password: randomBytes(18).toString('base64url') };
  await root.query(`CREATE DATABASE ${database}`);
  await root.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [admin.username, admin.password]);
  await root.query(`GRANT ALL ON *.* TO ?@'%' WITH GRANT OPTION`, [admin.username]);
  await root.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [app.username, app.password]);
  await root.query(`GRANT SELECT ON ${database}.* TO ?@'%'`, [app.username]);
  const host = '127.0.0.1';
  return {
    type: 'mysql',
    config: {
      host,
      port: 3306,
      database,
      username: app.username,
      strategy: 'alternating',
      adminSecret: 'bench/admin',
    },
    initial: { engine: 'mysql', host, port: 3306, database, ...app },
    admin,
    async login(c) {
      let connection: mysql.Connection | undefined;
      try {
        connection = await mysql.createConnection({
          host,
          port: 3306,
          user: c.username,
          password: c.password,
          database,
          connectTimeout: 5_000,
        });
        await connection.query('SELECT 1');
      } catch (error) {
        if ((error as { code?: string }).code === 'ER_ACCESS_DENIED_ERROR')
          throw new AuthFailure(c.username);
        throw error;
      } finally {
        await connection?.end().catch(() => undefined);
      }
    },
    async stop() {
      for (const user of [admin.username, app.username, `${app.username}_b`]) {
        await root.query(`DROP USER IF EXISTS ?@'%'`, [user]);
      }
      await root.query(`DROP DATABASE IF EXISTS ${database}`);
      await root.end();
    },
  };
}

async function redisTarget(): Promise<Target> {
  const admin = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await admin.connect();
  const app = {
    username: `rotor_bench_${unique()}`,
    password: randomBytes(18).toString('base64url'),
  };
  await admin.call('ACL', 'SETUSER', app.username, 'on', `>${app.password}`, '~*', '+ping', '+get');
  const host = '127.0.0.1';
  return {
    type: 'redis',
    config: { host, port: 6379, username: app.username },
    initial: { engine: 'redis', host, port: 6379, ...app },
    async login(c) {
      const client = new Redis({
        host,
        port: 6379,
        username: c.username,
        password: c.password,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableOfflineQueue: false,
        enableReadyCheck: false,
      });
      try {
        await client.connect();
        await client.ping();
      } catch (error) {
        if (/WRONGPASS/.test((error as Error).message)) throw new AuthFailure(c.username);
        throw error;
      } finally {
        client.disconnect();
      }
    },
    async stop() {
      await admin.call('ACL', 'DELUSER', app.username);
      admin.disconnect();
    },
  };
}
