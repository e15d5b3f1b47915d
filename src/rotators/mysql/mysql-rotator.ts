import { createHash } from 'node:crypto';
import { isRotorError, RotorError } from '../../core/errors.js';
import type { SecretValue } from '../../core/secret-value.js';
import {
  type Credential,
  credentialValue,
  newPassword,
  parseCredential,
  readAdminCredential,
  requireCurrent,
} from '../credential.js';
import type { Rotator, RotatorContext, RotatorSecret } from '../rotator.js';
import { acceptsCurrent } from '../target-login.js';
import { type MysqlConfig, mysqlConfigOf, mysqlLogins, parseMysqlConfig } from './mysql-config.js';
import {
  describeServer,
  type MysqlServer,
  type MysqlSession,
  run,
  withMysql,
} from './mysql-connection.js';
import {
  accountSql,
  copiedGrants,
  identifiedBy,
  type MysqlAccount,
  nativePasswordHash,
  quoteString,
  secretsOf,
} from './mysql-sql.js';

/**
 * Rotates the password of a MariaDB / MySQL login.
 *
 * - `alternating` (default): two logins with the same grants (`app`, `app_b`); a rotation
 *   sets the password of the one that is not current, so clients never meet a rejected
 *   password. The first rotation creates the second login with the first one's grants.
 * - `dual-password` (MySQL >= 8.0.14): `RETAIN CURRENT PASSWORD` keeps the old password
 *   valid until retire runs `DISCARD OLD PASSWORD`.
 * - `single`: one login, changed by the admin or, without adminSecret, by itself.
 *
 * On MariaDB passwords are sent pre-hashed, so no plaintext reaches the server's logs.
 * Changes to one account are serialised with GET_LOCK on the connection making them.
 */
export const mysqlRotator: Rotator = {
  parseConfig(raw) {
    return { ...parseMysqlConfig(raw) };
  },

  async generate(secret, current) {
    const config = mysqlConfigOf(secret);
    const { value: currentValue } = requireCurrent('mysql', secret.name, current);
    const now = readCredential(secret, config, currentValue);
    const database = config.database ?? now.database;
    return credentialValue({
      engine: 'mysql',
      host: config.host,
      port: config.port,
      ...(database === undefined ? {} : { database }),
      username: nextLogin(config, now.username),
      password: newPassword(config.passwordLength),
    });
  },

  async apply({ secret, current, pending }, ctx) {
    const config = mysqlConfigOf(secret);
    const keep = readCredential(secret, config, current.value);
    const next = readCredential(secret, config, pending.value);
    switch (config.strategy) {
      case 'alternating':
        return applyAlternating(config, ctx, keep, next);
      case 'dual-password':
        return applyDualPassword(config, ctx, next);
      case 'single':
        return config.adminSecret === undefined
          ? changeOwnPassword(config, keep, next)
          : setPasswordAsAdmin(config, ctx, next.password);
    }
  },

  async verify({ secret, pending }) {
    const config = mysqlConfigOf(secret);
    await selectOne(config, readCredential(secret, config, pending.value));
  },

  async retire({ secret }, ctx) {
    const config = mysqlConfigOf(secret);
    // alternating keeps the previous login as it is: the next rotation changes its password.
    if (config.strategy !== 'dual-password') return;
    await withAdmin(config, ctx, async (session, server) => {
      assertDualPassword(config, server);
      const account = accountOf(config, config.username);
      await withAccountLock(session, account, () =>
        run(
          session,
          `ALTER USER ${accountSql(account)} DISCARD OLD PASSWORD`,
          'discard the old password',
        ),
      );
    });
  },

  async rollback({ secret, current, pending }, ctx) {
    const config = mysqlConfigOf(secret);
    const keep = readCredential(secret, config, current.value);
    const drop = readCredential(secret, config, pending.value);
    switch (config.strategy) {
      case 'alternating':
        return scramblePendingLogin(config, ctx, keep, drop);
      case 'dual-password':
        return rollbackDualPassword(config, ctx, keep);
      case 'single':
        // Still taking the current password means apply never got that far.
        if (await acceptsCurrent(() => selectOne(config, keep))) return;
        return config.adminSecret === undefined
          ? changeOwnPassword(config, drop, keep)
          : setPasswordAsAdmin(config, ctx, keep.password);
    }
  },

  async check(secret, current) {
    const config = mysqlConfigOf(secret);
    await selectOne(config, readCredential(secret, config, current.value));
    return 'accepted';
  },

  validateValue(secret, value) {
    readCredential(secret, mysqlConfigOf(secret), value);
  },
};

async function applyAlternating(
  config: MysqlConfig,
  ctx: RotatorContext,
  keep: Credential,
  next: Credential,
): Promise<void> {
  if (next.username === keep.username) {
    throw new RotorError(
      'ERR_INVALID_INPUT',
      `strategy alternating: the pending value names the current login ${JSON.stringify(keep.username)}`,
    );
  }
  const source = accountOf(config, keep.username);
  const target = accountOf(config, next.username);
  await withAdmin(config, ctx, async (session, server) => {
    await withAccountLock(session, target, async () => {
      // Grants are copied on every apply, not only at creation: they are additive and
      // idempotent, and a crash between CREATE USER and the GRANTs must not leave the
      // second login with part of them.
      const rows = await run<Record<string, unknown>>(
        session,
        `SHOW GRANTS FOR ${accountSql(source)}`,
        `read the grants of ${accountSql(source)}`,
      );
      const grants = copiedGrants(
        rows.map((row) => String(Object.values(row)[0])),
        source,
        target,
      );
      session.secrets.push(...secretsOf(next.password));
      const identified = identifiedBy(server, next.password);
      await run(
        session,
        `CREATE USER IF NOT EXISTS ${accountSql(target)} ${identified}`,
        `create ${accountSql(target)}`,
      );
      await run(
        session,
        `ALTER USER ${accountSql(target)} ${identified}`,
        `change the password of ${accountSql(target)}`,
      );
      for (const grant of grants) {
        await run(
          session,
          grant,
          `copy the grants of ${accountSql(source)} to ${accountSql(target)}`,
        );
      }
    });
  });
}

/** Leaves the pending login with a random password nobody knows; the current login is untouched. */
async function scramblePendingLogin(
  config: MysqlConfig,
  ctx: RotatorContext,
  keep: Credential,
  drop: Credential,
): Promise<void> {
  if (drop.username === keep.username) return;
  const target = accountOf(config, drop.username);
  await withAdmin(config, ctx, (session, server) =>
    withAccountLock(session, target, async () => {
      const unknown = newPassword(64);
      session.secrets.push(...secretsOf(unknown), ...secretsOf(drop.password));
      await run(
        session,
        `ALTER USER IF EXISTS ${accountSql(target)} ${identifiedBy(server, unknown)}`,
        `scramble the password of ${accountSql(target)}`,
      );
    }),
  );
}

async function applyDualPassword(
  config: MysqlConfig,
  ctx: RotatorContext,
  next: Credential,
): Promise<void> {
  const account = accountOf(config, config.username);
  await withAdmin(config, ctx, async (session, server) => {
    assertDualPassword(config, server);
    await withAccountLock(session, account, async () => {
      // A resumed step must not RETAIN again: that would keep the new password twice and
      // drop the current one.
      if (await logsIn(config, next)) return;
      session.secrets.push(...secretsOf(next.password));
      await run(
        session,
        `ALTER USER ${accountSql(account)} IDENTIFIED BY ${quoteString(next.password, server)} RETAIN CURRENT PASSWORD`,
        `add a password to ${accountSql(account)}`,
      );
    });
  });
}

async function rollbackDualPassword(
  config: MysqlConfig,
  ctx: RotatorContext,
  keep: Credential,
): Promise<void> {
  const account = accountOf(config, config.username);
  await withAdmin(config, ctx, async (session, server) => {
    // apply refused such a server before changing anything: there is nothing to undo.
    if (!supportsDualPassword(server)) return;
    await withAccountLock(session, account, async () => {
      // Without RETAIN the secondary password stays as it is; DISCARD then drops it.
      session.secrets.push(...secretsOf(keep.password));
      await run(
        session,
        `ALTER USER ${accountSql(account)} IDENTIFIED BY ${quoteString(keep.password, server)}`,
        `restore the password of ${accountSql(account)}`,
      );
      await run(
        session,
        `ALTER USER ${accountSql(account)} DISCARD OLD PASSWORD`,
        'discard the pending password',
      );
    });
  });
}

async function setPasswordAsAdmin(
  config: MysqlConfig,
  ctx: RotatorContext,
  password: string,
): Promise<void> {
  const account = accountOf(config, config.username);
  await withAdmin(config, ctx, (session, server) =>
    withAccountLock(session, account, async () => {
      session.secrets.push(...secretsOf(password));
      await run(
        session,
        `ALTER USER ${accountSql(account)} ${identifiedBy(server, password)}`,
        `change the password of ${accountSql(account)}`,
      );
    }),
  );
}

/**
 * Without an admin the login changes its own password, so it logs in with `from`. When
 * that is refused because the change already happened (a resumed step), `to` logs in and
 * there is nothing left to do.
 */
async function changeOwnPassword(config: MysqlConfig, from: Credential, to: Credential) {
  const account = accountOf(config, from.username);
  try {
    await withMysql(endpointOf(config), from, describeLogin(from), async (session) => {
      const server = await describeServer(session);
      session.secrets.push(...secretsOf(to.password));
      // MariaDB's SET PASSWORD takes the hash and needs no privilege for one's own account.
      const sql = server.mariadb
        ? `SET PASSWORD = '${nativePasswordHash(to.password)}'`
        : `ALTER USER CURRENT_USER() IDENTIFIED BY ${quoteString(to.password, server)}${
            atLeast(server, [8, 0, 13]) ? ` REPLACE ${quoteString(from.password, server)}` : ''
          }`;
      await withAccountLock(session, account, () => run(session, sql, 'change its own password'));
    });
  } catch (error) {
    if (isRotorError(error) && error.code === 'ERR_TARGET_AUTH' && (await logsIn(config, to))) {
      return;
    }
    throw error;
  }
}

/**
 * Serialises changes to one account across Rotor processes and other tools that follow
 * the same convention. The lock name is hashed: MySQL caps lock names at 64 characters.
 */
async function withAccountLock<T>(
  session: MysqlSession,
  account: MysqlAccount,
  work: () => Promise<T>,
): Promise<T> {
  const digest = createHash('sha256').update(`${account.user}@${account.host}`).digest('hex');
  const name = `'rotor:${digest.slice(0, 48)}'`;
  const [row] = await run<{ locked: unknown }>(
    session,
    `SELECT GET_LOCK(${name}, 10) AS locked`,
    `lock ${accountSql(account)}`,
  );
  if (Number(row?.locked) !== 1) {
    throw new RotorError(
      'ERR_TARGET_REJECTED',
      `mysql at ${session.endpoint.host}:${session.endpoint.port}: another change to ${accountSql(account)} ` +
        'held its lock for 10 s; try again',
    );
  }
  try {
    return await work();
  } finally {
    await run(session, `SELECT RELEASE_LOCK(${name})`, 'release the lock').catch(() => {});
  }
}

async function withAdmin<T>(
  config: MysqlConfig,
  ctx: RotatorContext,
  work: (session: MysqlSession, server: MysqlServer) => Promise<T>,
): Promise<T> {
  if (config.adminSecret === undefined) {
    throw new RotorError(
      'ERR_INVALID_CONFIG',
      `invalid config for type mysql: adminSecret: required with strategy "${config.strategy}"`,
    );
  }
  const admin = await readAdminCredential((name) => ctx.readSecret(name), config.adminSecret);
  const who = `admin user ${JSON.stringify(admin.username)} (adminSecret ${config.adminSecret})`;
  return withMysql({ host: config.host, port: config.port }, admin, who, async (session) =>
    work(session, await describeServer(session)),
  );
}

/** A fresh connection that logs in with the credential (and its database) and runs SELECT 1. */
async function selectOne(
  config: MysqlConfig,
  credential: Credential,
  useDatabase = true,
): Promise<void> {
  await withMysql(
    endpointOf(config, useDatabase ? credential : undefined),
    credential,
    describeLogin(credential),
    async (session) => {
      const [row] = await run<{ one: unknown }>(session, 'SELECT 1 AS one', 'run SELECT 1');
      if (Number(row?.one) !== 1) {
        throw new RotorError(
          'ERR_TARGET_REJECTED',
          `mysql at ${config.host}:${config.port} answered SELECT 1 of ${describeLogin(credential)} with something else`,
        );
      }
    },
  );
}

/** Whether the target accepts the password now; other failures than a refused password throw. */
async function logsIn(config: MysqlConfig, credential: Credential): Promise<boolean> {
  try {
    await selectOne(config, credential, false);
    return true;
  } catch (error) {
    if (isRotorError(error) && error.code === 'ERR_TARGET_AUTH') return false;
    throw error;
  }
}

function supportsDualPassword(server: MysqlServer): boolean {
  return !server.mariadb && atLeast(server, [8, 0, 14]);
}

function assertDualPassword(config: MysqlConfig, server: MysqlServer): void {
  if (supportsDualPassword(server)) return;
  const product = server.mariadb ? 'MariaDB' : 'MySQL';
  throw new RotorError(
    'ERR_INVALID_CONFIG',
    `invalid config for type mysql: strategy: "dual-password" needs MySQL 8.0.14 or later ` +
      `(ALTER USER ... RETAIN CURRENT PASSWORD), but ${config.host}:${config.port} runs ${product} ` +
      `${server.versionText}, which does not support it; use "alternating"`,
  );
}

function atLeast(server: MysqlServer, wanted: readonly [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) {
    const have = server.version[i] ?? 0;
    const want = wanted[i] ?? 0;
    if (have !== want) return have > want;
  }
  return true;
}

/** With alternating, the login of the pair that `current` does not name. */
function nextLogin(config: MysqlConfig, current: string): string {
  const logins = mysqlLogins(config);
  return logins.find((login) => login !== current) ?? current;
}

/** Parses a stored credential and checks it names a login of this config. */
function readCredential(
  secret: RotatorSecret,
  config: MysqlConfig,
  value: SecretValue,
): Credential {
  const credential = parseCredential(value, secret.name);
  const logins = mysqlLogins(config);
  let problem: string | undefined;
  if (credential.engine !== 'mysql') {
    problem = `engine: expected "mysql" (got ${JSON.stringify(credential.engine)})`;
  } else if (!logins.includes(credential.username)) {
    const expected = logins.map((login) => JSON.stringify(login)).join(' or ');
    problem = `username: expected ${expected} as in the config`;
  }
  if (problem !== undefined) {
    throw new RotorError('ERR_INVALID_INPUT', `value of ${secret.name}: ${problem}`);
  }
  return credential;
}

function accountOf(config: MysqlConfig, user: string): MysqlAccount {
  return { user, host: config.accountHost };
}

function endpointOf(config: MysqlConfig, credential?: Credential) {
  return { host: config.host, port: config.port, database: credential?.database };
}

function describeLogin(credential: Credential): string {
  return `user ${JSON.stringify(credential.username)}`;
}
