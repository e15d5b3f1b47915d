import { z } from 'zod';
import { RotorError } from '../core/errors.js';
import { SecretValue } from '../core/secret-value.js';
import { describeZodError } from '../core/zod-issues.js';
import { BASE62, randomString } from '../crypto/random-string.js';
import type { VersionedValue } from './rotator.js';

/**
 * A credential secret's value: JSON an application can use as it is. With the
 * alternating strategy, `username` names whichever login is current.
 */
export interface Credential {
  readonly engine: 'postgres' | 'mysql' | 'redis';
  readonly host: string;
  readonly port: number;
  /** Absent for Redis. */
  readonly database?: string | undefined;
  readonly username: string;
  readonly password: string;
}

const credentialSchema = z.object({
  engine: z.enum(['postgres', 'mysql', 'redis'], {
    error: 'expected "postgres", "mysql" or "redis"',
  }),
  host: z.string({ error: 'expected a host name' }).min(1),
  port: z.int({ error: 'expected a port number' }).min(1).max(65535),
  database: z.string({ error: 'expected a database name' }).min(1).optional(),
  username: z.string({ error: 'expected a user name' }).min(1).max(128),
  password: z.string({ error: 'expected a password' }).min(1).max(1024),
});

/** Reads a stored credential; the error names the field, never the password. */
export function parseCredential(value: SecretValue, secret: string): Credential {
  const notCredential = () =>
    new RotorError(
      'ERR_INVALID_INPUT',
      `value of ${secret}: expected credential JSON {"engine","host","port","database","username","password"}`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(value.reveal());
  } catch {
    throw notCredential();
  }
  // Anything but an object would be echoed by the field-by-field message, and it may be the password.
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw notCredential();
  const parsed = credentialSchema.safeParse(raw);
  if (!parsed.success) {
    const safe = { ...raw, password: undefined };
    throw new RotorError(
      'ERR_INVALID_INPUT',
      `value of ${secret}: ${describeZodError(parsed.error, safe, Object.keys(credentialSchema.shape))}`,
    );
  }
  return parsed.data;
}

export function credentialValue(credential: Credential): SecretValue {
  return SecretValue.fromString(JSON.stringify(credential));
}

/** A new password of base62 characters: safe in every driver, connection string and shell. */
export function newPassword(length = 32): string {
  return randomString(BASE62, length);
}

const adminCredentialSchema = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
});

/** The admin credential a config names by secret: JSON with at least username and password. */
export async function readAdminCredential(
  read: (name: string) => Promise<SecretValue>,
  adminSecret: string,
): Promise<{ username: string; password: string }> {
  const value = await read(adminSecret);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.reveal());
  } catch {
    parsed = undefined;
  }
  const admin = adminCredentialSchema.safeParse(parsed);
  if (!admin.success) {
    throw new RotorError(
      'ERR_INVALID_CONFIG',
      `adminSecret ${adminSecret} must hold JSON {"username","password"}`,
    );
  }
  return admin.data;
}

/**
 * A credential type cannot invent its first value (the target already holds
 * one): creating it without `--value-stdin` gets this explanation.
 */
export function requireCurrent(
  engine: Credential['engine'],
  secret: string,
  current: VersionedValue | undefined,
): VersionedValue {
  if (current) return current;
  const fields =
    engine === 'redis'
      ? 'host, port, username, password'
      : 'host, port, database, username, password';
  throw new RotorError(
    'ERR_INVALID_INPUT',
    `type ${engine} needs the current credential when ${secret} is created: pipe its JSON {engine: "${engine}", ${fields}} to --value-stdin`,
  );
}
