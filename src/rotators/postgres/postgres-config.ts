import { z } from 'zod';
import { RotorError } from '../../core/errors.js';
import { describeZodError } from '../../core/zod-issues.js';

/** PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes. */
const MAX_ROLE_BYTES = 63;
const SECOND_LOGIN_SUFFIX = '_b';

const roleName = z
  .string({ error: 'expected a role name' })
  .min(1, { error: 'expected a role name' })
  .refine((name) => Buffer.byteLength(name) <= MAX_ROLE_BYTES, {
    error: `expected at most ${MAX_ROLE_BYTES} bytes (PostgreSQL truncates longer role names)`,
  })
  .refine((name) => !name.includes('\0'), { error: 'expected no NUL character' });

const postgresConfigSchema = z
  .strictObject({
    host: z.string({ error: 'expected a host name' }).min(1, { error: 'expected a host name' }),
    port: z
      .int({ error: 'expected a port number from 1 to 65535' })
      .min(1, { error: 'expected a port number from 1 to 65535' })
      .max(65535, { error: 'expected a port number from 1 to 65535' })
      .default(5432),
    database: z
      .string({ error: 'expected a database name' })
      .min(1, { error: 'expected a database name' }),
    username: roleName,
    usernames: z
      .tuple([roleName, roleName], { error: 'expected two role names, such as ["app", "app_b"]' })
      .optional(),
    strategy: z
      .enum(['alternating', 'single'], { error: 'expected "alternating" or "single"' })
      .default('alternating'),
    adminSecret: z
      .string({ error: 'expected the name of a secret holding JSON {"username","password"}' })
      .min(1, { error: 'expected the name of a secret holding JSON {"username","password"}' })
      .optional(),
    sslmode: z
      .enum(['disable', 'require', 'verify-full'], {
        error: 'expected "disable", "require" or "verify-full"',
      })
      .default('disable'),
    revokeAfterGrace: z.boolean({ error: 'expected true or false' }).default(false),
    passwordLength: z
      .int({ error: 'expected an integer from 16 to 128' })
      .min(16, { error: 'expected an integer from 16 to 128' })
      .max(128, { error: 'expected an integer from 16 to 128' })
      .default(32),
  })
  .superRefine((config, ctx) => {
    if (config.strategy === 'alternating' && config.adminSecret === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['adminSecret'],
        message:
          'required by strategy "alternating" (the default): the admin creates the second login ' +
          'and sets its passwords; use strategy "single" to rotate without an admin',
      });
    }
    if (config.usernames === undefined) {
      const second = config.username + SECOND_LOGIN_SUFFIX;
      if (config.strategy === 'alternating' && Buffer.byteLength(second) > MAX_ROLE_BYTES) {
        ctx.addIssue({
          code: 'custom',
          path: ['username'],
          message: `expected at most ${MAX_ROLE_BYTES - SECOND_LOGIN_SUFFIX.length} bytes so that the second login (username + "_b") fits; or set usernames`,
        });
      }
      return;
    }
    if (config.strategy === 'single') {
      ctx.addIssue({
        code: 'custom',
        path: ['usernames'],
        message: 'only used by strategy "alternating"',
      });
    } else if (config.usernames[0] === config.usernames[1]) {
      ctx.addIssue({
        code: 'custom',
        path: ['usernames', 1],
        message: 'expected a role name different from usernames.0',
      });
    } else if (!config.usernames.includes(config.username)) {
      ctx.addIssue({
        code: 'custom',
        path: ['username'],
        message: 'expected one of usernames (the login that exists already)',
      });
    }
  });

export type PostgresConfig = z.output<typeof postgresConfigSchema>;

/** Validates a postgres secret's config and fills in defaults; throws ERR_INVALID_CONFIG naming the field. */
export function parsePostgresConfig(raw: unknown): PostgresConfig {
  const parsed = postgresConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const detail = describeZodError(parsed.error, raw, Object.keys(postgresConfigSchema.shape));
    throw new RotorError('ERR_INVALID_CONFIG', `invalid config for type postgres: ${detail}`);
  }
  return parsed.data;
}

/**
 * The logins a secret's value may name: the configured pair for `alternating`
 * (`usernames`, or `username` and `username_b`), the one `username` for `single`.
 */
export function postgresLogins(config: PostgresConfig): readonly string[] {
  if (config.strategy === 'single') return [config.username];
  return config.usernames ?? [config.username, config.username + SECOND_LOGIN_SUFFIX];
}
