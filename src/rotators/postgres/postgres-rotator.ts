import { RotorError } from '../../core/errors.js';
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
import { type PostgresConfig, parsePostgresConfig, postgresLogins } from './postgres-config.js';
import { type Login, PostgresTarget, showRole } from './postgres-target.js';

/** Length of the passwords nobody knows, set on logins that must stop working. */
const UNKNOWN_PASSWORD_LENGTH = 64;

/**
 * Rotates the password of a PostgreSQL role. The value is credential JSON
 * (`{engine: 'postgres', host, port, database, username, password}`).
 *
 * - `alternating` (default): two logins in the same roles (`app` and `app_b`,
 *   created by the admin on the first rotation); a rotation sets the password
 *   of the login not in use, so clients never meet a rejected password.
 * - `single`: one login whose password changes in place, by the admin or, with
 *   no `adminSecret`, by the login itself (an admin credential can rotate itself).
 *
 * Passwords reach the server only as SCRAM-SHA-256 verifiers, never as SQL text.
 */
export const postgresRotator: Rotator = {
  parseConfig(raw) {
    return { ...parsePostgresConfig(raw) };
  },

  async generate(secret, current) {
    const config = parsePostgresConfig(secret.config);
    const { value: currentValue } = requireCurrent('postgres', secret.name, current);
    const { username } = readCredential(secret, currentValue, config);
    const next =
      config.strategy === 'alternating'
        ? postgresLogins(config).find((login) => login !== username)
        : username;
    return credentialValue({
      engine: 'postgres',
      host: config.host,
      port: config.port,
      database: config.database,
      username: next ?? username,
      password: newPassword(config.passwordLength),
    });
  },

  async apply({ secret, current, pending }, ctx) {
    const config = parsePostgresConfig(secret.config);
    const target = targetOf(config);
    const now = readCredential(secret, current.value, config);
    const next = readCredential(secret, pending.value, config);
    const purpose = `apply ${secret.name}: cannot set the password of role ${showRole(next.username)}`;
    if (next.username !== now.username) {
      // Alternating: the login nobody uses takes the new password (and is created, the first time).
      await target.changePassword(
        adminLogins(config, ctx),
        { role: next.username, password: next.password, createLike: now.username },
        purpose,
      );
      return;
    }
    // One login: the old password stops working here. Logged in as the role itself, a resumed
    // apply finds the new password already in place.
    await changeOwnPassword(secret, config, ctx, next, [now, next], purpose);
  },

  async verify({ secret, pending }) {
    const config = parsePostgresConfig(secret.config);
    const next = readCredential(secret, pending.value, config);
    await targetOf(config).login(next, `verify ${secret.name}`);
  },

  async retire({ secret, current, retiring }, ctx) {
    const config = parsePostgresConfig(secret.config);
    if (config.strategy !== 'alternating' || !config.revokeAfterGrace) return;
    const now = readCredential(secret, current.value, config);
    const old = readCredential(secret, retiring.value, config);
    // Never lock out the login in use (a retired version may have named it too).
    if (old.username === now.username) return;
    await targetOf(config).changePassword(
      adminLogins(config, ctx),
      { role: old.username, password: unknownPassword(), skipIfMissing: true },
      `retire ${secret.name}: cannot revoke the password of role ${showRole(old.username)}`,
    );
  },

  async rollback({ secret, current, pending }, ctx) {
    const config = parsePostgresConfig(secret.config);
    const now = readCredential(secret, current.value, config);
    const next = readCredential(secret, pending.value, config);
    if (next.username !== now.username) {
      // The discarded password must not keep working: nobody will ever know the one set here.
      await targetOf(config).changePassword(
        adminLogins(config, ctx),
        { role: next.username, password: unknownPassword(), skipIfMissing: true },
        `rollback ${secret.name}: cannot revoke the password of role ${showRole(next.username)}`,
      );
      return;
    }
    // One login: if it still takes the current password, apply never got that far.
    if (await acceptsCurrent(() => targetOf(config).login(now, `rollback ${secret.name}`))) return;
    // Otherwise put the current password back. Logged in as the role itself, the pending
    // password works if apply got that far, the current one otherwise.
    await changeOwnPassword(
      secret,
      config,
      ctx,
      now,
      [next, now],
      `rollback ${secret.name}: cannot restore the password of role ${showRole(now.username)}`,
    );
  },

  async check(secret, current) {
    const config = parsePostgresConfig(secret.config);
    const now = readCredential(secret, current.value, config);
    await targetOf(config).login(now, `check ${secret.name}`);
    return 'accepted';
  },

  validateValue(secret, value) {
    readCredential(secret, value, parsePostgresConfig(secret.config));
  },
};

function targetOf(config: PostgresConfig): PostgresTarget {
  return new PostgresTarget(config);
}

/**
 * Gives the one login the password of `change`: as the admin when the config names one,
 * otherwise as the role itself, with the first of `selfLogins` the server accepts.
 */
async function changeOwnPassword(
  secret: RotatorSecret,
  config: PostgresConfig,
  ctx: RotatorContext,
  change: Login,
  selfLogins: readonly Login[],
  purpose: string,
): Promise<void> {
  const target = targetOf(config);
  const { username: role, password } = change;
  // An admin secret naming this very secret is the role rotating itself.
  if (config.adminSecret === undefined || config.adminSecret === secret.name) {
    await target.changePassword(selfLogins, { role, password, self: true }, purpose);
  } else {
    await target.changePassword(adminLogins(config, ctx), { role, password }, purpose);
  }
}

/** The admin credential the config names (required by the alternating strategy), as the one login to try. */
async function adminLogins(config: PostgresConfig, ctx: RotatorContext): Promise<Login[]> {
  if (config.adminSecret === undefined) {
    throw new RotorError(
      'ERR_INVALID_CONFIG',
      'invalid config for type postgres: adminSecret: required to change another login',
    );
  }
  return [await readAdminCredential((name) => ctx.readSecret(name), config.adminSecret)];
}

function unknownPassword(): string {
  return newPassword(UNKNOWN_PASSWORD_LENGTH);
}

/**
 * A postgres value: credential JSON for one of the configured logins. Errors
 * name the field, never the password.
 */
function readCredential(
  secret: RotatorSecret,
  value: SecretValue,
  config: PostgresConfig,
): Credential {
  const credential = parseCredential(value, secret.name);
  if (credential.engine !== 'postgres') {
    throw new RotorError(
      'ERR_INVALID_INPUT',
      `value of ${secret.name}: engine: expected "postgres" (got ${JSON.stringify(credential.engine)})`,
    );
  }
  const logins = postgresLogins(config);
  if (!logins.includes(credential.username)) {
    throw new RotorError(
      'ERR_INVALID_INPUT',
      `value of ${secret.name}: username: expected ${logins.map((login) => JSON.stringify(login)).join(' or ')} (got ${JSON.stringify(credential.username)})`,
    );
  }
  return credential;
}
