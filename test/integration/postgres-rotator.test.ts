import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RotorError } from '../../src/core/errors.js';
import { SecretValue } from '../../src/core/secret-value.js';
import { newPassword } from '../../src/rotators/credential.js';
import { postgresRotator } from '../../src/rotators/postgres/postgres-rotator.js';
import { scramSha256Verifier } from '../../src/rotators/postgres/scram-verifier.js';
import type {
  RotatorContext,
  RotatorSecret,
  StepInput,
  VersionedValue,
} from '../../src/rotators/rotator.js';
import { type ScramPostgres, startScramPostgres } from '../support/scram-postgres.js';

const HOST = '127.0.0.1';
const DATABASE = 'postgres';
const ADMIN_SECRET = 'prod/db/admin';
const HOSTILE = `o'brien"; DROP TABLE x; --`;

let cluster: ScramPostgres;
/** The superuser, for setting the scene and looking behind Rotor's back. */
let su: pg.Client;
/** The admin's own session: roles it creates, it may manage (PostgreSQL 16 and later insist). */
let asAdmin: pg.Client;
/** A CREATEROLE admin, as Rotor should be given: not a superuser. */
const admin = { username: 'rotor_admin', password: newPassword() };
const createdRoles: string[] = [];
const createdTables: string[] = [];

const ident = (name: string) => pg.escapeIdentifier(name);

beforeAll(async () => {
  cluster = await startScramPostgres({ logStatements: true });
  su = new pg.Client({ connectionString: cluster.adminUrl });
  await su.connect();
  await su.query(
    `CREATE ROLE rotor_admin LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(scramSha256Verifier(admin.password))}`,
  );
  asAdmin = new pg.Client({
    host: HOST,
    port: cluster.port,
    database: DATABASE,
    user: admin.username,
    password: admin.password,
  });
  await asAdmin.connect();
});

afterAll(async () => {
  await asAdmin?.end();
  if (su) {
    for (const table of createdTables) await su.query(`DROP TABLE IF EXISTS ${ident(table)}`);
    const roles = [...createdRoles.flatMap((role) => [role, `${role}_b`]), 'rotor_admin'];
    for (const role of roles) await su.query(`DROP ROLE IF EXISTS ${ident(role)}`);
    await su.end();
  }
  await cluster?.stop();
});

/** Creates a login (as the admin, so it may manage it) whose password is `password`. */
async function createLogin(name: string, password: string, ...groups: string[]): Promise<void> {
  createdRoles.push(name);
  await asAdmin.query(
    `CREATE ROLE ${ident(name)} LOGIN PASSWORD ${pg.escapeLiteral(scramSha256Verifier(password))}`,
  );
  for (const group of groups) await asAdmin.query(`GRANT ${ident(group)} TO ${ident(name)}`);
}

async function createGroup(name: string): Promise<void> {
  createdRoles.push(name);
  await asAdmin.query(`CREATE ROLE ${ident(name)} NOLOGIN`);
}

function secretFor(name: string, config: Record<string, unknown>): RotatorSecret {
  return {
    name,
    config: postgresRotator.parseConfig({
      host: HOST,
      port: cluster.port,
      database: DATABASE,
      ...config,
    }),
  };
}

function credential(username: string, password: string, version = 1): VersionedValue {
  const json = {
    engine: 'postgres',
    host: HOST,
    port: cluster.port,
    database: DATABASE,
    username,
    password,
  };
  return { version, value: SecretValue.fromString(JSON.stringify(json)) };
}

function ctxWith(adminCredential: { username: string; password: string } = admin): RotatorContext {
  return {
    now: () => new Date(),
    readSecret: async (name) => {
      expect(name).toBe(ADMIN_SECRET);
      return SecretValue.fromString(JSON.stringify(adminCredential));
    },
  };
}
const ctx = ctxWith();

function login(value: VersionedValue): { username: string; password: string } {
  return JSON.parse(value.value.reveal());
}

/** Whether the cluster lets `username` in with `password` (a fresh connection each time). */
async function canLogin(username: string, password: string): Promise<boolean> {
  const client = new pg.Client({
    host: HOST,
    port: cluster.port,
    database: DATABASE,
    user: username,
    password,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (error) {
    if (error instanceof pg.DatabaseError && error.code === '28P01') return false;
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Asserts a wrong password is refused first, so that an accepted login means something. */
async function expectLogin(value: VersionedValue, accepted: boolean): Promise<void> {
  const { username, password } = login(value);
  expect(
    await canLogin(username, `wrong-${newPassword(8)}`),
    `${username} with a wrong password`,
  ).toBe(false);
  expect(await canLogin(username, password), `${username} with version ${value.version}`).toBe(
    accepted,
  );
}

/** The engine's order up to promotion: generate, apply, verify. */
async function rotate(secret: RotatorSecret, current: VersionedValue): Promise<StepInput> {
  const value = await postgresRotator.generate(secret, current, ctx);
  const input = { secret, current, pending: { version: current.version + 1, value } };
  await postgresRotator.apply(input, ctx);
  await postgresRotator.verify(input, ctx);
  return input;
}

async function rotorError(promise: Promise<unknown>, code: string): Promise<RotorError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RotorError);
  expect((error as RotorError).code, (error as Error).message).toBe(code);
  return error as RotorError;
}

function rotorErrorSync(run: () => unknown, code: string): RotorError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RotorError);
    expect((error as RotorError).code, (error as Error).message).toBe(code);
    return error as RotorError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe('scramSha256Verifier', () => {
  it('matches the RFC 7677 example exchange (user "user", password "pencil")', () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const verifier = scramSha256Verifier('pencil', salt, 4096);
    const match = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(verifier);
    expect(match?.[1]).toBe('W22ZaJ0SNY7soEsUEjb6gQ==');
    const storedKey = Buffer.from(match?.[2] ?? '', 'base64');
    const serverKey = Buffer.from(match?.[3] ?? '', 'base64');
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage =
      'n=user,r=rOprNGfwEbeRWgbNEkqO,' +
      `r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,` +
      `c=biws,r=${nonce}`;
    const hmac = (key: Buffer) => createHmac('sha256', key).update(authMessage).digest();
    // The server's signature (v=) comes from ServerKey...
    expect(hmac(serverKey).toString('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    // ...and the client's proof (p=) XOR ClientSignature is a ClientKey whose hash is StoredKey.
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const signature = hmac(storedKey);
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ (signature[i] ?? 0)));
    expect(createHash('sha256').update(clientKey).digest()).toEqual(storedKey);
  });

  it.each([
    ['ascii', 'correct horse battery staple'],
    ['non-ASCII, normalised by SASLprep', 'Caf\u00e9\u00a0\u2460 \u00bd'],
  ])('equals the verifier PostgreSQL computes itself (%s)', async (_kind, password) => {
    const role = `scram_vector_${randomBytes(3).toString('hex')}`;
    createdRoles.push(role);
    await su.query("SET password_encryption = 'scram-sha-256'");
    await su.query(`CREATE ROLE ${role} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
    const { rows } = await su.query<{ rolpassword: string }>(
      'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
      [role],
    );
    const stored = rows[0]?.rolpassword ?? '';
    const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored) ?? [];
    expect(
      scramSha256Verifier(password, Buffer.from(salt ?? '', 'base64'), Number(iterations)),
    ).toBe(stored);
  });

  it('stored by ALTER ROLE, lets in the password and nothing else', async () => {
    const role = 'scram_login';
    await createLogin(role, newPassword());
    const password = newPassword();
    await su.query(
      `ALTER ROLE ${role} PASSWORD ${pg.escapeLiteral(scramSha256Verifier(password))}`,
    );
    expect(await canLogin(role, `${password}x`)).toBe(false);
    expect(await canLogin(role, password)).toBe(true);
  });
});

describe('postgres rotator, alternating', () => {
  const group = 'alt_readers';
  const table = 'alt_data';
  let secret: RotatorSecret;
  let v1: VersionedValue;
  let v2: VersionedValue;
  let v3: VersionedValue;

  beforeAll(async () => {
    await createGroup(group);
    await su.query(`CREATE TABLE ${table} (n int)`);
    createdTables.push(table);
    await su.query(`INSERT INTO ${table} VALUES (42)`);
    await su.query(`GRANT SELECT ON ${table} TO ${group}`);
    v1 = credential('app', newPassword());
    await createLogin('app', login(v1).password, group);
    secret = secretFor('prod/db/app', {
      username: 'app',
      adminSecret: ADMIN_SECRET,
      revokeAfterGrace: true,
    });
  });

  it('first rotation creates app_b in the same roles; both logins work', async () => {
    const { pending } = await rotate(secret, v1);
    v2 = pending;
    expect(login(v2).username).toBe('app_b');
    await expectLogin(v2, true);
    await expectLogin(v1, true);
    const { rows } = await su.query(
      `SELECT g.rolname FROM pg_auth_members m
         JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
        WHERE u.rolname = 'app_b'`,
    );
    expect(rows.map((row) => row.rolname)).toEqual([group]);
    const asB = new pg.Client({
      host: HOST,
      port: cluster.port,
      database: DATABASE,
      user: 'app_b',
      password: login(v2).password,
    });
    await asB.connect();
    try {
      expect((await asB.query(`SELECT n FROM ${table}`)).rows).toEqual([{ n: 42 }]);
    } finally {
      await asB.end();
    }
  });

  it('second rotation alternates back to app; the login in use keeps working', async () => {
    const { pending } = await rotate(secret, v2);
    v3 = pending;
    expect(login(v3).username).toBe('app');
    await expectLogin(v3, true);
    await expectLogin(v2, true);
    await expectLogin(v1, false);
  });

  it('retire with revokeAfterGrace scrambles the retiring login only', async () => {
    await postgresRotator.retire({ secret, current: v3, retiring: v2 }, ctx);
    await expectLogin(v2, false);
    await expectLogin(v3, true);
    // Idempotent, and a retired version naming the current login never locks it out.
    await postgresRotator.retire({ secret, current: v3, retiring: v2 }, ctx);
    await postgresRotator.retire({ secret, current: v3, retiring: v1 }, ctx);
    await expectLogin(v3, true);
  });

  it('rollback scrambles the pending login while current keeps working', async () => {
    const input = await rotate(secret, v3);
    await expectLogin(input.pending, true);
    await postgresRotator.rollback(input, ctx);
    await expectLogin(input.pending, false);
    await expectLogin(v3, true);
    await postgresRotator.rollback(input, ctx);
    await expectLogin(v3, true);
  });

  it('retire without revokeAfterGrace leaves the old login alone', async () => {
    const plain = secretFor('prod/db/app', { username: 'app', adminSecret: ADMIN_SECRET });
    const { pending } = await rotate(plain, v3);
    await postgresRotator.retire({ secret: plain, current: pending, retiring: v3 }, ctx);
    await expectLogin(v3, true);
    await expectLogin(pending, true);
  });

  it('two concurrent first rotations both apply; exactly one password ends up working', async () => {
    const current = credential('twin', newPassword());
    await createLogin('twin', login(current).password);
    const twin = secretFor('prod/db/twin', { username: 'twin', adminSecret: ADMIN_SECRET });
    const inputs = await Promise.all(
      [1, 2].map(async () => ({
        secret: twin,
        current,
        pending: { version: 2, value: await postgresRotator.generate(twin, current, ctx) },
      })),
    );
    await Promise.all(inputs.map((input) => postgresRotator.apply(input, ctx)));
    const works = await Promise.all(
      inputs.map(({ pending }) => canLogin('twin_b', login(pending).password)),
    );
    expect(works.filter(Boolean)).toHaveLength(1);
    await expectLogin(current, true);
  });
});

describe('postgres rotator, single', () => {
  it('with an admin: the old password stops working at apply; rollback restores it', async () => {
    const v1 = credential('single_admin', newPassword());
    await createLogin('single_admin', login(v1).password);
    const secret = secretFor('prod/db/single-admin', {
      username: 'single_admin',
      strategy: 'single',
      adminSecret: ADMIN_SECRET,
    });
    const input = await rotate(secret, v1);
    expect(login(input.pending).username).toBe('single_admin');
    await expectLogin(input.pending, true);
    await expectLogin(v1, false);
    await postgresRotator.rollback(input, ctx);
    await expectLogin(v1, true);
    await expectLogin(input.pending, false);
  });

  it('without an admin: the login changes its own password, and rollback puts it back', async () => {
    const v1 = credential('single_self', newPassword());
    await createLogin('single_self', login(v1).password);
    const secret = secretFor('prod/db/single-self', {
      username: 'single_self',
      strategy: 'single',
    });
    const noSecrets: RotatorContext = {
      now: () => new Date(),
      readSecret: async () => {
        throw new Error('no admin secret should be read');
      },
    };
    const value = await postgresRotator.generate(secret, v1, noSecrets);
    const input = { secret, current: v1, pending: { version: 2, value } };
    await postgresRotator.apply(input, noSecrets);
    await expectLogin(v1, false);
    await expectLogin(input.pending, true);
    // A resumed apply logs in with the pending password: the current one no longer works.
    await postgresRotator.apply(input, noSecrets);
    await postgresRotator.verify(input, noSecrets);
    await postgresRotator.rollback(input, noSecrets);
    await expectLogin(v1, true);
    await expectLogin(input.pending, false);
    // Rollback of a pending value that never reached the target logs in with the current one.
    await postgresRotator.rollback(input, noSecrets);
    await expectLogin(v1, true);
    // Then a rotation that sticks.
    const next = await rotate(secret, v1);
    await postgresRotator.retire({ secret, current: next.pending, retiring: v1 }, noSecrets);
    await expectLogin(next.pending, true);
  });

  it('two concurrent applies on one role both succeed; exactly one password works', async () => {
    const v1 = credential('racer', newPassword());
    await createLogin('racer', login(v1).password);
    const secret = secretFor('prod/db/racer', {
      username: 'racer',
      strategy: 'single',
      adminSecret: ADMIN_SECRET,
    });
    for (let round = 0; round < 3; round++) {
      const inputs = await Promise.all(
        [2, 3].map(async (version) => ({
          secret,
          current: v1,
          pending: { version, value: await postgresRotator.generate(secret, v1, ctx) },
        })),
      );
      await Promise.all(inputs.map((input) => postgresRotator.apply(input, ctx)));
      const works = await Promise.all(
        inputs.map(({ pending }) => canLogin('racer', login(pending).password)),
      );
      expect(works.filter(Boolean)).toHaveLength(1);
    }
  });
});

describe('postgres rotator, hostile role name', () => {
  beforeAll(async () => {
    await su.query('CREATE TABLE x (n int)');
    createdTables.push('x');
  });

  it(`rotates ${JSON.stringify(HOSTILE)} and harms nothing`, async () => {
    const v1 = credential(HOSTILE, newPassword());
    await createLogin(HOSTILE, login(v1).password);
    const secret = secretFor('prod/db/hostile', {
      username: HOSTILE,
      adminSecret: ADMIN_SECRET,
      revokeAfterGrace: true,
    });
    const first = await rotate(secret, v1);
    expect(login(first.pending).username).toBe(`${HOSTILE}_b`);
    await expectLogin(first.pending, true);
    const second = await rotate(secret, first.pending);
    await postgresRotator.retire({ secret, current: second.pending, retiring: first.pending }, ctx);
    await expectLogin(first.pending, false);
    const third = await rotate(secret, second.pending);
    await postgresRotator.rollback(third, ctx);
    await expectLogin(third.pending, false);
    await expectLogin(second.pending, true);

    const single = secretFor('prod/db/hostile-self', { username: HOSTILE, strategy: 'single' });
    const own = await rotate(single, second.pending);
    await expectLogin(own.pending, true);
    await postgresRotator.rollback(own, ctx);
    await expectLogin(second.pending, true);

    const { rows } = await su.query("SELECT to_regclass('public.x') IS NOT NULL AS present");
    expect(rows[0]?.present).toBe(true);
  });
});

describe('postgres rotator, no plaintext in SQL', () => {
  it('sends SCRAM verifiers: the statement log never holds a new password', async () => {
    const v1 = credential('logged', newPassword());
    await createLogin('logged', login(v1).password);
    const alternating = secretFor('prod/db/logged', {
      username: 'logged',
      adminSecret: ADMIN_SECRET,
    });
    const first = await rotate(alternating, v1);
    const single = secretFor('prod/db/logged-self', { username: 'logged', strategy: 'single' });
    const own = await rotate(single, v1);
    await postgresRotator.rollback(own, ctx);
    await postgresRotator.rollback(first, ctx);
    const log = await readFile(cluster.logFile, 'utf8');
    expect(log).toContain('ALTER ROLE CURRENT_USER PASSWORD');
    expect(log).toContain('SCRAM-SHA-256$');
    for (const value of [first.pending, own.pending, v1]) {
      expect(log.includes(login(value).password), `version ${value.version} in the log`).toBe(
        false,
      );
    }
  });
});

describe('postgres rotator, failures', () => {
  it('a wrong admin credential fails apply with ERR_TARGET_AUTH naming the roles, no password', async () => {
    const v1 = credential('denied', newPassword());
    await createLogin('denied', login(v1).password);
    const secret = secretFor('prod/db/denied', { username: 'denied', adminSecret: ADMIN_SECRET });
    const wrong = { username: 'rotor_admin', password: newPassword() };
    const value = await postgresRotator.generate(secret, v1, ctx);
    const input = { secret, current: v1, pending: { version: 2, value } };
    const error = await rotorError(postgresRotator.apply(input, ctxWith(wrong)), 'ERR_TARGET_AUTH');
    expect(error.message).toContain(
      `password authentication failed for role rotor_admin on ${HOST}:${cluster.port}/${DATABASE}`,
    );
    expect(error.message).toContain('denied_b');
    for (const secretText of [wrong.password, login(input.pending).password, login(v1).password]) {
      expect(error.message).not.toContain(secretText);
    }
  });

  it('a closed port is ERR_TARGET_UNREACHABLE', async () => {
    const port = await closedPort();
    const secret = {
      name: 'prod/db/nowhere',
      config: postgresRotator.parseConfig({
        host: HOST,
        port,
        database: DATABASE,
        username: 'app',
        strategy: 'single',
      }),
    };
    const error = await rotorError(
      postgresRotator.check(secret, credential('app', newPassword()), ctx),
      'ERR_TARGET_UNREACHABLE',
    );
    expect(error.message).toContain(`${HOST}:${port}/${DATABASE}`);
  });

  it('a server that never answers is ERR_TARGET_UNREACHABLE after the 5 s connect timeout', async () => {
    const silent = createServer(() => undefined);
    const sockets = new Set<Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, HOST, resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const secret = {
        name: 'prod/db/silent',
        config: postgresRotator.parseConfig({
          host: HOST,
          port,
          database: DATABASE,
          username: 'app',
          strategy: 'single',
        }),
      };
      const started = Date.now();
      const error = await rotorError(
        postgresRotator.verify(
          { secret, current: credential('app', 'a'), pending: credential('app', 'b') },
          ctx,
        ),
        'ERR_TARGET_UNREACHABLE',
      );
      expect(error.message).toContain('timed out after 5 s');
      expect(Date.now() - started).toBeLessThan(9_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it.each([
    [{ username: 'app', adminSecret: ADMIN_SECRET, port: 'x' }, 'port: expected a port number'],
    [{ username: 'app', adminSecret: ADMIN_SECRET, port: 70000 }, 'port: expected a port number'],
    [{ username: 'app' }, 'adminSecret: required by strategy "alternating"'],
    [{ username: 'app', strategy: 'dual' }, 'strategy: expected "alternating" or "single"'],
    [
      { username: 'app', strategy: 'single', passwordLength: 8 },
      'passwordLength: expected an integer from 16 to 128',
    ],
    [{ username: 'app', strategy: 'single', sslmode: 'prefer' }, 'sslmode: expected "disable"'],
    [
      { username: 'app', adminSecret: ADMIN_SECRET, usernames: ['a', 'b'] },
      'username: expected one of usernames',
    ],
    [{ username: 'app', adminSecret: ADMIN_SECRET, usernames: ['app'] }, 'usernames'],
    [{ username: 'a'.repeat(64), strategy: 'single' }, 'username: expected at most 63 bytes'],
    [{ username: 'app', strategy: 'single', pasword: 'x' }, 'unknown field "pasword"'],
    [{ strategy: 'single' }, 'username: expected a role name'],
  ])('bad config %j is ERR_INVALID_CONFIG naming the field', (config, expected) => {
    const error = rotorErrorSync(
      () => postgresRotator.parseConfig({ host: HOST, database: DATABASE, ...config }),
      'ERR_INVALID_CONFIG',
    );
    expect(error.message).toMatch(/^invalid config for type postgres: /);
    expect(error.message).toContain(expected);
  });

  it('applies defaults', () => {
    expect(
      postgresRotator.parseConfig({
        host: HOST,
        database: DATABASE,
        username: 'app',
        adminSecret: ADMIN_SECRET,
      }),
    ).toEqual({
      host: HOST,
      port: 5432,
      database: DATABASE,
      username: 'app',
      strategy: 'alternating',
      adminSecret: ADMIN_SECRET,
      sslmode: 'disable',
      revokeAfterGrace: false,
      passwordLength: 32,
    });
  });

  it('a value that is not postgres credential JSON is ERR_INVALID_INPUT, never echoing the password', () => {
    const secret = secretFor('prod/db/app', { username: 'app', adminSecret: ADMIN_SECRET });
    const password = 'hunter2-but-longer';
    const base = {
      engine: 'postgres',
      host: HOST,
      port: 5432,
      database: DATABASE,
      username: 'app',
      password,
    };
    const cases: [unknown, string][] = [
      [password, 'expected credential JSON'],
      [JSON.stringify(password), 'expected credential JSON'],
      [JSON.stringify({ ...base, engine: 'mysql' }), 'engine: expected "postgres"'],
      [JSON.stringify({ ...base, username: 'other' }), 'username: expected "app" or "app_b"'],
      [JSON.stringify({ ...base, port: 'x' }), 'port'],
      [JSON.stringify({ ...base, password: 42 }), 'password'],
    ];
    for (const [text, expected] of cases) {
      const value = SecretValue.fromString(String(text));
      const error = rotorErrorSync(
        () => postgresRotator.validateValue(secret, value),
        'ERR_INVALID_INPUT',
      );
      expect(error.message).toContain(expected);
      expect(error.message).not.toContain('hunter2');
    }
    postgresRotator.validateValue(
      secret,
      SecretValue.fromString(JSON.stringify({ ...base, username: 'app_b' })),
    );
  });

  it('generate without a current value asks for the credential on --value-stdin', async () => {
    const secret = secretFor('prod/db/app', { username: 'app', adminSecret: ADMIN_SECRET });
    const error = await rotorError(
      postgresRotator.generate(secret, undefined, ctx),
      'ERR_INVALID_INPUT',
    );
    expect(error.message).toContain('--value-stdin');
  });
});

describe('postgres rotator, drift check', () => {
  it('accepts the current value, and reports a password changed behind its back', async () => {
    const v1 = credential('drifter', newPassword());
    await createLogin('drifter', login(v1).password);
    const secret = secretFor('prod/db/drifter', { username: 'drifter', strategy: 'single' });
    await expectLogin(v1, true);
    expect(await postgresRotator.check(secret, v1, ctx)).toBe('accepted');
    await su.query(
      `ALTER ROLE drifter PASSWORD ${pg.escapeLiteral(scramSha256Verifier(newPassword()))}`,
    );
    const error = await rotorError(postgresRotator.check(secret, v1, ctx), 'ERR_TARGET_AUTH');
    expect(error.message).toContain('password authentication failed for role drifter');
    expect(error.message).not.toContain(login(v1).password);
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}
