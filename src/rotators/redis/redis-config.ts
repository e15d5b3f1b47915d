import { z } from 'zod';
import {
  booleanField,
  hostField,
  intField,
  parseTargetConfig,
  secretNameField,
} from '../config-fields.js';
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
  host: hostField(),
  port: intField(1, 65535, 6379),
  username: z
    .string({ error: 'expected an ACL user name' })
    .min(1, { error: 'expected an ACL user name' })
    .max(128, { error: 'expected at most 128 characters' })
    .regex(PRINTABLE, { error: 'expected no whitespace or control characters' }),
  adminSecret: secretNameField('prod/redis/admin').optional(),
  tls: booleanField(false),
  passwordLength: intField(16, 128, 32),
});

const FIELDS = Object.keys(schema.shape);

/**
 * Validates a raw `redis` config and applies the defaults.
 * @throws RotorError ERR_INVALID_CONFIG naming the offending field and what it expects.
 */
export function parseRedisConfig(raw: unknown): RedisConfig {
  return parseTargetConfig('redis', schema, FIELDS, raw);
}

/** The config of a secret the engine hands to a step, checked again rather than cast. */
export function redisConfigOf(secret: RotatorSecret): RedisConfig {
  return parseRedisConfig(secret.config);
}
