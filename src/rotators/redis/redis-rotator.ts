import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
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
import { parseRedisConfig, type RedisConfig, redisConfigOf } from './redis-config.js';
import { type RedisEndpoint, withRedis } from './redis-connection.js';

/**
 * Rotates the password of a Redis ACL user with the dual-password strategy: apply adds
 * the new password next to the current one, retire removes the old one. Passwords are
 * only ever sent to ACL SETUSER as SHA-256 hashes (`#<hex>` / `!<hex>`), so the
 * plaintext never appears in a command that MONITOR, SLOWLOG or a proxy could show.
 */
export const redisRotator: Rotator = {
  parseConfig(raw) {
    return { ...parseRedisConfig(raw) };
  },

  async generate(secret, current) {
    const config = redisConfigOf(secret);
    const { value: currentValue } = requireCurrent('redis', secret.name, current);
    readCredential(secret, config, currentValue);
    return credentialValue({
      engine: 'redis',
      host: config.host,
      port: config.port,
      username: config.username,
      password: newPassword(config.passwordLength),
    });
  },

  async apply({ secret, current, pending }, ctx) {
    const config = redisConfigOf(secret);
    const keep = readCredential(secret, config, current.value);
    const next = readCredential(secret, config, pending.value);
    await withAdmin(config, ctx, async (redis) => {
      const hashes = await passwordHashes(redis, config);
      // Current is added too: a user flagged `nopass` loses that flag with its first
      // password, and the contract is that the target keeps accepting current.
      const add = [sha256(keep.password), sha256(next.password)].filter((h) => !hashes.has(h));
      if (add.length > 0)
        await setUser(
          redis,
          config,
          add.map((h) => `#${h}`),
        );
    });
  },

  async verify({ secret, pending }) {
    const config = redisConfigOf(secret);
    await ping(config, readCredential(secret, config, pending.value));
  },

  async retire({ secret, current, retiring }, ctx) {
    const config = redisConfigOf(secret);
    const keep = readCredential(secret, config, current.value);
    const old = readCredential(secret, config, retiring.value);
    if (old.password === keep.password) return;
    await withAdmin(config, ctx, async (redis) => {
      const hash = sha256(old.password);
      if ((await passwordHashes(redis, config)).has(hash))
        await setUser(redis, config, [`!${hash}`]);
    });
  },

  async rollback({ secret, current, pending }, ctx) {
    const config = redisConfigOf(secret);
    const keep = readCredential(secret, config, current.value);
    const drop = readCredential(secret, config, pending.value);
    await withAdmin(config, ctx, async (redis) => {
      const hashes = await passwordHashes(redis, config);
      const rules: string[] = [];
      const keepHash = sha256(keep.password);
      const dropHash = sha256(drop.password);
      if (!hashes.has(keepHash)) rules.push(`#${keepHash}`);
      if (dropHash !== keepHash && hashes.has(dropHash)) rules.push(`!${dropHash}`);
      if (rules.length > 0) await setUser(redis, config, rules);
    });
  },

  async check(secret, current) {
    const config = redisConfigOf(secret);
    await ping(config, readCredential(secret, config, current.value));
    return 'accepted';
  },

  validateValue(secret, value) {
    readCredential(secret, redisConfigOf(secret), value);
  },
};

/** Parses a stored credential and checks it belongs to this config's ACL user. */
function readCredential(
  secret: RotatorSecret,
  config: RedisConfig,
  value: SecretValue,
): Credential {
  const credential = parseCredential(value, secret.name);
  const problem =
    credential.engine !== 'redis'
      ? `engine: expected "redis" (got ${JSON.stringify(credential.engine)})`
      : credential.database !== undefined
        ? 'database: a Redis credential has no database'
        : credential.username !== config.username
          ? `username: expected ${JSON.stringify(config.username)} as in the config`
          : undefined;
  if (problem !== undefined) {
    throw new RotorError('ERR_INVALID_INPUT', `value of ${secret.name}: ${problem}`);
  }
  return credential;
}

function endpointOf(config: RedisConfig): RedisEndpoint {
  return { host: config.host, port: config.port, tls: config.tls };
}

/** A fresh connection that logs in as the credential and runs PING. */
async function ping(config: RedisConfig, credential: Credential): Promise<void> {
  const who = `user ${JSON.stringify(credential.username)}`;
  await withRedis(endpointOf(config), credential, who, async (redis) => {
    const reply = await redis.ping();
    if (reply !== 'PONG') {
      throw new RotorError(
        'ERR_TARGET_REJECTED',
        `redis at ${config.host}:${config.port} answered PING of ${who} with something other than PONG`,
      );
    }
  });
}

async function withAdmin<T>(
  config: RedisConfig,
  ctx: RotatorContext,
  work: (redis: Redis) => Promise<T>,
): Promise<T> {
  if (config.adminSecret === undefined) {
    return withRedis(endpointOf(config), undefined, 'the default user', work);
  }
  const admin = await readAdminCredential((name) => ctx.readSecret(name), config.adminSecret);
  const who = `admin user ${JSON.stringify(admin.username)} (adminSecret ${config.adminSecret})`;
  return withRedis(endpointOf(config), admin, who, work);
}

/** The SHA-256 hex hashes of the user's passwords, as ACL GETUSER lists them. */
async function passwordHashes(redis: Redis, config: RedisConfig): Promise<Set<string>> {
  const reply = await redis.call('ACL', 'GETUSER', config.username);
  if (reply === null) {
    // ACL SETUSER would create the user (disabled, without permissions): refuse instead.
    throw new RotorError(
      'ERR_TARGET_REJECTED',
      `redis at ${config.host}:${config.port} has no ACL user ${JSON.stringify(config.username)}`,
    );
  }
  const fields = Array.isArray(reply) ? reply : [];
  const index = fields.indexOf('passwords');
  const passwords = index >= 0 ? fields[index + 1] : undefined;
  return new Set(Array.isArray(passwords) ? passwords.map(String) : []);
}

async function setUser(redis: Redis, config: RedisConfig, rules: readonly string[]): Promise<void> {
  await redis.call('ACL', 'SETUSER', config.username, ...rules);
}

function sha256(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}
