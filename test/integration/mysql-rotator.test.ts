import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { type Connection, createConnection, escape as sqlLiteral } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RotorError } from '../../src/core/errors.js';
import { SecretValue } from '../../src/core/secret-value.js';
import { mysqlRotator } from '../../src/rotators/mysql/mysql-rotator.js';
import type { RotatorContext, RotatorSecret, VersionedValue } from '../../src/rotators/rotator.js';

const HOST = '127.0.0.1';
const PORT = Number(process.env.ROTOR_TEST_MYSQL_PORT ?? 3306);
const PREFIX = `rt${process.pid}${randomBytes(3).toString('hex')}`;
const DATABASE = `rotor_test_${process.pid}_${randomBytes(4).toString('hex')}`;
const ADMIN = { username: `${PREFIX}_adm`, password: `admin-${randomBytes(12).toString('hex')}` };
const ADMIN_SECRET = 'test/mysql/admin';

let root: Connection;

/** Test setup quotes with the driver's escape, independently of the rotator's own quoting. */
const account = (user: string) => `${sqlLiteral(user)}@'%'`;

/** A fresh login that may read the test table. */
async function createLogin(user: string, password: string): Promise<void> {
  await root.query(`CREATE USER ${account(user)} IDENTIFIED BY ${sqlLiteral(password)}`);
  await root.query(`GRANT SELECT ON \`${DATABASE}\`.t TO ${account(user)}`);
}

/** Whether the server lets `user` log in with `password`, checked with a raw client. */
async function accepts(user: string, password: string): Promise<boolean> {
  try {
    const connection = await createConnection({ host: HOST, port: PORT, user, password });
    await connection.end();
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ER_ACCESS_DENIED_ERROR') return false;
    throw error;
  }
}

async function canReadTable(user: string, password: string): Promise<boolean> {
  const connection = await createConnection({ host: HOST, port: PORT, user, password });
  try {
    const [rows] = await connection.query(`SELECT a FROM \`${DATABASE}\`.t`);
    return Array.isArray(rows) && rows.length === 1;
  } catch (error) {
    if ((error as { code?: string }).code === 'ER_TABLEACCESS_DENIED_ERROR') return false;
    throw error;
  } finally {
    await connection.end();
  }
}

function credential(username: string, password: string, port = PORT): SecretValue {
  return SecretValue.fromString(
    JSON.stringify({ engine: 'mysql', host: HOST, port, database: DATABASE, username, password }),
  );
}

function parts(value: SecretValue): { username: string; password: string } {
  return JSON.parse(value.reveal()) as { username: string; password: string };
}

function secretFor(config: Record<string, unknown>): RotatorSecret {
  return {
    name: 'test/mysql/app',
    config: mysqlRotator.parseConfig({ host: HOST, port: PORT, database: DATABASE, ...config }),
  };
}

function contextWith(admin: { username: string; password: string }): RotatorContext {
  return {
    now: () => new Date(),
    readSecret: async () => SecretValue.fromString(JSON.stringify(admin)),
  };
}

const ctx = contextWith(ADMIN);

/** generate in the engine's order: from `current` at `version` to a fresh pending value. */
async function pendingFrom(secret: RotatorSecret, current: VersionedValue) {
  const pending = {
    version: current.version + 1,
    value: await mysqlRotator.generate(secret, current, ctx),
  };
  return { secret, current, pending };
}

async function rejection(promise: Promise<unknown>): Promise<RotorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RotorError);
  return error as RotorError;
}

async function expectWrongPasswordRefused(secret: RotatorSecret, username: string): Promise<void> {
  const wrong = { version: 99, value: credential(username, 'definitely-wrong-pw') };
  const error = await rejection(
    mysqlRotator.verify({ secret, current: wrong, pending: wrong }, ctx),
  );
  expect(error.code).toBe('ERR_TARGET_AUTH');
  expect(error.message).toContain(`${HOST}:${PORT}`);
  expect(error.message).toContain(JSON.stringify(username));
  expect(error.message).not.toContain('definitely-wrong-pw');
}

beforeAll(async () => {
  root = await createConnection({
    host: HOST,
    port: PORT,
    user: process.env.ROTOR_TEST_MYSQL_USER ?? 'root',
    password: process.env.ROTOR_TEST_MYSQL_PASSWORD ?? '',
  });
  await root.query(`CREATE DATABASE \`${DATABASE}\``);
  await root.query(`CREATE TABLE \`${DATABASE}\`.t (a INT)`);
  await root.query(`INSERT INTO \`${DATABASE}\`.t VALUES (1)`);
  await createLogin(ADMIN.username, ADMIN.password);
  await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(ADMIN.username)} WITH GRANT OPTION`);
});

afterAll(async () => {
  if (!root) return;
  const [rows] = await root.query(
    'SELECT User AS user, Host AS host FROM mysql.user WHERE User LIKE ?',
    [`${PREFIX}%`],
  );
  for (const row of rows as { user: string; host: string }[]) {
    await root.query(`DROP USER ${sqlLiteral(row.user)}@${sqlLiteral(row.host)}`);
  }
  await root.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``);
  await root.end();
});

describe('mysql rotator on MariaDB', () => {
  it('alternating: creates the second login with the same grants and alternates', async () => {
    const first = `${PREFIX}_alt`;
    await createLogin(first, 'first-pw-0'); // with SELECT on the test table
    const secret = secretFor({ username: first, adminSecret: ADMIN_SECRET });
    await expectWrongPasswordRefused(secret, first);

    // Rotation 1: app -> app_b, which does not exist yet.
    const one = await pendingFrom(secret, { version: 1, value: credential(first, 'first-pw-0') });
    const b = parts(one.pending.value);
    expect(b.username).toBe(`${first}_b`);
    await mysqlRotator.apply(one, ctx);
    await mysqlRotator.apply(one, ctx); // idempotent: a resumed step runs again
    await mysqlRotator.verify(one, ctx);
    expect(await canReadTable(b.username, b.password)).toBe(true);
    expect(await accepts(first, 'first-pw-0')).toBe(true);
    await mysqlRotator.retire({ secret, current: one.pending, retiring: one.current }, ctx);
    expect(await accepts(first, 'first-pw-0')).toBe(true); // alternating retires nothing

    // Rotation 2: back to the first login, whose password changes; app_b keeps working.
    const two = await pendingFrom(secret, one.pending);
    const a = parts(two.pending.value);
    expect(a.username).toBe(first);
    await mysqlRotator.apply(two, ctx);
    await mysqlRotator.verify(two, ctx);
    expect(await accepts(first, 'first-pw-0')).toBe(false);
    expect(await canReadTable(a.username, a.password)).toBe(true);
    expect(await canReadTable(b.username, b.password)).toBe(true);

    // Rotation 3, rolled back: app_b's new password is scrambled, app keeps working.
    const three = await pendingFrom(secret, two.pending);
    const b2 = parts(three.pending.value);
    expect(b2.username).toBe(b.username);
    await mysqlRotator.apply(three, ctx);
    expect(await accepts(b2.username, b2.password)).toBe(true);
    await mysqlRotator.rollback(three, ctx);
    await mysqlRotator.rollback(three, ctx);
    expect(await accepts(b2.username, b2.password)).toBe(false);
    expect(await accepts(b.username, b.password)).toBe(false);
    expect(await canReadTable(a.username, a.password)).toBe(true);
    expect(await mysqlRotator.check(secret, two.pending, ctx)).toBe('accepted');
  });

  it('single with admin: the old password is refused after apply, rollback restores it', async () => {
    const user = `${PREFIX}_s1`;
    await createLogin(user, 'single-pw-0');
    const secret = secretFor({ username: user, strategy: 'single', adminSecret: ADMIN_SECRET });
    await expectWrongPasswordRefused(secret, user);
    const input = await pendingFrom(secret, { version: 1, value: credential(user, 'single-pw-0') });
    const next = parts(input.pending.value);
    expect(next.username).toBe(user);

    await mysqlRotator.apply(input, ctx);
    await mysqlRotator.verify(input, ctx);
    expect(await accepts(user, 'single-pw-0')).toBe(false);
    expect(await accepts(user, next.password)).toBe(true);

    await mysqlRotator.rollback(input, ctx);
    expect(await accepts(user, 'single-pw-0')).toBe(true);
    expect(await accepts(user, next.password)).toBe(false);
  });

  it('single without admin: the login changes its own password, idempotently', async () => {
    const user = `${PREFIX}_s2`;
    await createLogin(user, 'single-pw-1');
    const secret = secretFor({ username: user, strategy: 'single' });
    await expectWrongPasswordRefused(secret, user);
    const input = await pendingFrom(secret, { version: 1, value: credential(user, 'single-pw-1') });
    const next = parts(input.pending.value);

    await mysqlRotator.apply(input, ctx);
    await mysqlRotator.apply(input, ctx); // resumed: current is refused, pending already works
    await mysqlRotator.verify(input, ctx);
    expect(await accepts(user, 'single-pw-1')).toBe(false);
    expect(await accepts(user, next.password)).toBe(true);

    await mysqlRotator.rollback(input, ctx);
    await mysqlRotator.rollback(input, ctx);
    expect(await accepts(user, 'single-pw-1')).toBe(true);
    expect(await accepts(user, next.password)).toBe(false);
  });

  it('dual-password: MariaDB gets a clear unsupported error and is left unchanged', async () => {
    const user = `${PREFIX}_dual`;
    await createLogin(user, 'dual-pw-0');
    const secret = secretFor({
      username: user,
      strategy: 'dual-password',
      adminSecret: ADMIN_SECRET,
    });
    const input = await pendingFrom(secret, { version: 1, value: credential(user, 'dual-pw-0') });
    const error = await rejection(mysqlRotator.apply(input, ctx));
    expect(error.code).toBe('ERR_INVALID_CONFIG');
    expect(error.message).toMatch(
      /^invalid config for type mysql: strategy: "dual-password" needs MySQL 8\.0\.14 or later .* runs MariaDB 10\.\d+/,
    );
    expect(error.message).toContain('does not support it');
    await mysqlRotator.rollback(input, ctx); // nothing to undo
    expect(await accepts(user, 'dual-pw-0')).toBe(true);
    expect(await accepts(user, parts(input.pending.value).password)).toBe(false);
  });

  it('handles a hostile user name with quotes, backticks and backslashes without injection', async () => {
    const hostile = `${PREFIX}o'b"x\`\\;`;
    await createLogin(hostile, 'hostile-pw-0');
    const secret = secretFor({ username: hostile, adminSecret: ADMIN_SECRET });
    await expectWrongPasswordRefused(secret, hostile);

    const input = await pendingFrom(secret, {
      version: 1,
      value: credential(hostile, 'hostile-pw-0'),
    });
    const next = parts(input.pending.value);
    expect(next.username).toBe(`${hostile}_b`);
    await mysqlRotator.apply(input, ctx);
    await mysqlRotator.verify(input, ctx);
    expect(await canReadTable(next.username, next.password)).toBe(true);
    expect(await canReadTable(hostile, 'hostile-pw-0')).toBe(true);

    const [users] = await root.query('SELECT User AS user FROM mysql.user WHERE User LIKE ?', [
      `${PREFIX}o%`,
    ]);
    expect((users as { user: string }[]).map((row) => row.user).sort()).toEqual(
      [hostile, `${hostile}_b`].sort(),
    );
    const [databases] = await root.query('SHOW DATABASES LIKE ?', [DATABASE]);
    expect(databases).toHaveLength(1);

    // The single strategy without admin quotes nothing but a hash: the same name works there too.
    const single = secretFor({ username: hostile, strategy: 'single' });
    const own = await pendingFrom(single, {
      version: 1,
      value: credential(hostile, 'hostile-pw-0'),
    });
    await mysqlRotator.apply(own, ctx);
    await mysqlRotator.verify(own, ctx);
    expect(await accepts(hostile, 'hostile-pw-0')).toBe(false);
  });

  it('a wrong admin password is ERR_TARGET_AUTH naming host:port and user, not the password', async () => {
    const user = `${PREFIX}_wa`;
    await createLogin(user, 'wrong-admin-0');
    const secret = secretFor({ username: user, strategy: 'single', adminSecret: ADMIN_SECRET });
    const input = await pendingFrom(secret, {
      version: 1,
      value: credential(user, 'wrong-admin-0'),
    });
    const wrong = contextWith({ username: ADMIN.username, password: 'not-the-admin-pw' });
    const error = await rejection(mysqlRotator.apply(input, wrong));
    expect(error.code).toBe('ERR_TARGET_AUTH');
    expect(error.message).toContain(`${HOST}:${PORT}`);
    expect(error.message).toContain(ADMIN.username);
    expect(error.message).not.toContain('not-the-admin-pw');
    expect(error.message).not.toContain(parts(input.pending.value).password);
    expect(await accepts(user, 'wrong-admin-0')).toBe(true);
  });

  it('check accepts the current value, and reports drift and unreachable servers', async () => {
    const user = `${PREFIX}_chk`;
    await createLogin(user, 'check-pw-0');
    const secret = secretFor({ username: user, strategy: 'single' });
    const current = { version: 1, value: credential(user, 'check-pw-0') };
    expect(await mysqlRotator.check(secret, current, ctx)).toBe('accepted');

    await root.query(`ALTER USER ${account(user)} IDENTIFIED BY 'changed-elsewhere'`);
    const drift = await rejection(mysqlRotator.check(secret, current, ctx));
    expect(drift.code).toBe('ERR_TARGET_AUTH');
    expect(drift.message).toContain(user);
    expect(drift.message).not.toContain('check-pw-0');

    const closed = await freePort();
    const away = secretFor({ username: user, strategy: 'single', port: closed });
    const unreachable = await rejection(
      mysqlRotator.check(away, { version: 1, value: credential(user, 'check-pw-0', closed) }, ctx),
    );
    expect(unreachable.code).toBe('ERR_TARGET_UNREACHABLE');
    expect(unreachable.message).toContain(`${HOST}:${closed}`);
  });

  it('the general query log never holds the plaintext new password after apply', async ({
    skip,
  }) => {
    const logFile = `/tmp/rotor-general-log-${PREFIX}.log`;
    const [saved] = await root.query(
      'SELECT @@GLOBAL.general_log AS enabled, @@GLOBAL.general_log_file AS file, @@GLOBAL.log_output AS output',
    );
    const before = (saved as { enabled: number; file: string; output: string }[])[0];
    if (before === undefined) throw new Error('no general log settings');
    const single = `${PREFIX}_log`;
    const pair = `${PREFIX}_lga`;
    await createLogin(single, 'log-pw-0');
    await createLogin(pair, 'log-pw-1');
    const singleSecret = secretFor({
      username: single,
      strategy: 'single',
      adminSecret: ADMIN_SECRET,
    });
    const ownSecret = secretFor({ username: single, strategy: 'single' });
    const pairSecret = secretFor({ username: pair, adminSecret: ADMIN_SECRET });
    const byAdmin = await pendingFrom(singleSecret, {
      version: 1,
      value: credential(single, 'log-pw-0'),
    });
    const byItself = await pendingFrom(ownSecret, byAdmin.pending);
    const alternating = await pendingFrom(pairSecret, {
      version: 1,
      value: credential(pair, 'log-pw-1'),
    });

    let log: string;
    try {
      await root.query(`SET GLOBAL general_log_file = ${sqlLiteral(logFile)}`);
      await root.query("SET GLOBAL log_output = 'FILE'");
      await root.query('SET GLOBAL general_log = ON');
      await mysqlRotator.apply(byAdmin, ctx);
      await mysqlRotator.apply(byItself, ctx);
      await mysqlRotator.apply(alternating, ctx);
      await mysqlRotator.rollback(alternating, ctx);
    } finally {
      await root.query('SET GLOBAL general_log = OFF');
      await root.query(`SET GLOBAL log_output = ${sqlLiteral(before.output)}`);
      await root.query(`SET GLOBAL general_log_file = ${sqlLiteral(before.file)}`);
      if (before.enabled) await root.query('SET GLOBAL general_log = ON');
    }
    try {
      log = await readFile(logFile, 'utf8');
    } catch (error) {
      skip(`the server's general log ${logFile} cannot be read here: ${String(error)}`);
      return;
    } finally {
      await rm(logFile, { force: true }).catch(() => {});
    }
    // The log did record the applies: their statements are there, with hashes instead.
    expect(log).toContain('ALTER USER');
    expect(log).toContain('SET PASSWORD');
    expect(log).toContain('CREATE USER IF NOT EXISTS');
    for (const value of [byAdmin.pending, byItself.pending, alternating.pending]) {
      expect(log).not.toContain(parts(value.value).password);
    }
    expect(await accepts(single, parts(byItself.pending.value).password)).toBe(true);
  });

  it('needs the current credential at creation and validates values', async () => {
    const secret = secretFor({ username: 'app', adminSecret: ADMIN_SECRET });
    const error = await rejection(mysqlRotator.generate(secret, undefined, ctx));
    expect(error.code).toBe('ERR_INVALID_INPUT');
    expect(error.message).toContain('--value-stdin');
    expect(() => mysqlRotator.validateValue(secret, credential('app_b', 'pw'))).not.toThrow();
    expect(() => mysqlRotator.validateValue(secret, credential('other', 'pw'))).toThrow(
      'value of test/mysql/app: username: expected "app" or "app_b" as in the config',
    );
    const custom = secretFor({
      username: 'app',
      usernames: ['app', 'app2'],
      adminSecret: ADMIN_SECRET,
    });
    const next = await mysqlRotator.generate(
      custom,
      { version: 1, value: credential('app2', 'pw') },
      ctx,
    );
    expect(parts(next).username).toBe('app');
  });

  it('rejects bad configs with precise errors and applies defaults', () => {
    expect(
      mysqlRotator.parseConfig({ host: 'db', username: 'app', adminSecret: 'prod/db/admin' }),
    ).toEqual({
      host: 'db',
      port: 3306,
      username: 'app',
      accountHost: '%',
      strategy: 'alternating',
      adminSecret: 'prod/db/admin',
      passwordLength: 32,
    });
    const cases: [unknown, string][] = [
      [{ host: 'db', username: 'app' }, 'adminSecret: required with strategy "alternating"'],
      [
        { host: 'db', username: 'app', strategy: 'dual-password' },
        'adminSecret: required with strategy "dual-password"',
      ],
      [
        { host: 'db', username: 'app', strategy: 'rolling' },
        'strategy: expected one of "alternating", "single", "dual-password" (got "rolling")',
      ],
      [
        { host: 'db', username: 'app', strategy: 'single', port: 70000 },
        'port: expected an integer from 1 to 65535',
      ],
      [
        { host: 'db', username: 'app', adminSecret: 'a/b', usernames: ['x', 'y'] },
        'usernames: expected to include username "app"',
      ],
      [
        { host: 'db', username: 'app', adminSecret: 'a/b', usernames: ['app', 'app'] },
        'usernames: expected two different user names',
      ],
      [
        { host: 'db', username: '', strategy: 'single' },
        'username: expected a user name of 1 to 80 characters',
      ],
      [
        { host: 'db', username: 'app', strategy: 'single', pasword: 'x' },
        'unknown field "pasword"',
      ],
    ];
    for (const [raw, message] of cases) {
      expect(() => mysqlRotator.parseConfig(raw)).toThrow(
        `invalid config for type mysql: ${message}`,
      );
    }
  });
});

/** A TCP port nothing listens on: bound by the system, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
