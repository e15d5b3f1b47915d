import { z } from 'zod';
import { RotorError } from '../../core/errors.js';
import { assertSecretName } from '../../core/secret-name.js';
import { describeZodError } from '../../core/zod-issues.js';
import { booleanField, intField } from '../generated/config-fields.js';
import type { RotatorSecret } from '../rotator.js';

/** A parsed `redis` config, every default applied. */
export interface RedisConfig {
  readonly host: string;
  readonly port: number;
  /** The ACL user whose password Rotor rotates. */
  readonly username: string;
  /** Another secret holding JSON {username, password}; without it Rotor is the default user. */
  readonly adminSecret?: string | undefined;
  readonly tls: boolean;
  readonly passwordLength: number;
}

// Whitespace and control characters have no place in a host or an ACL user name, and
// rejecting them keeps every error message that quotes a name on one line.
const PRINTABLE = /^[^\s\p{Cc}]+$/u;

const schema = z.strictObject({
  host: z
    .string({ error: 'expected a host name or address' })
    .min(1, { error: 'expected a host name or address' })
    .max(255, { error: 'expected at most 255 characters' })
    .regex(PRINTABLE, { error: 'expected no whitespace or control characters' }),
  port: intField(1, 65535, 6379),
  username: z
    .string({ error: 'expected an ACL user name' })
    .min(1, { error: 'expected an ACL user name' })
    .max(128, { error: 'expected at most 128 characters' })
    .regex(PRINTABLE, { error: 'expected no whitespace or control characters' }),
  adminSecret: z
    .string({ error: 'expected the name of a secret such as "prod/redis/admin"' })
    .refine(isSecretName, { error: 'expected the name of a secret such as "prod/redis/admin"' })
    .optional(),
  tls: booleanField(false),
  passwordLength: intField(16, 128, 32),
});

const FIELDS = Object.keys(schema.shape);

/**
 * Validates a raw `redis` config and applies the defaults.
 * @throws RotorError ERR_INVALID_CONFIG naming the offending field and what it expects.
 */
export function parseRedisConfig(raw: unknown): RedisConfig {
  const parsed = schema.safeParse(raw === undefined ? {} : raw);
  if (parsed.success) return parsed.data;
  throw new RotorError(
    'ERR_INVALID_CONFIG',
    `invalid config for type redis: ${describeZodError(parsed.error, raw, FIELDS)}`,
  );
}

/** The config of a secret the engine hands to a step, checked again rather than cast. */
export function redisConfigOf(secret: RotatorSecret): RedisConfig {
  return parseRedisConfig(secret.config);
}

function isSecretName(name: string): boolean {
  try {
    assertSecretName(name);
    return true;
  } catch {
    return false;
  }
}
