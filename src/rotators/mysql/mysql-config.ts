import { z } from 'zod';
import {
  enumField,
  hostField,
  intField,
  parseTargetConfig,
  secretNameField,
} from '../config-fields.js';
import type { RotatorSecret } from '../rotator.js';

export const MYSQL_STRATEGIES = ['alternating', 'single', 'dual-password'] as const;
export type MysqlStrategy = (typeof MYSQL_STRATEGIES)[number];

/** A parsed `mysql` config, every default applied. */
export interface MysqlConfig {
  readonly host: string;
  readonly port: number;
  readonly database?: string | undefined;
  /** The login whose password Rotor rotates; with `alternating`, the first of the pair. */
  readonly username: string;
  /** The alternating pair; defaults to `[username, username + "_b"]`. */
  readonly usernames?: readonly [string, string] | undefined;
  /** The host part of the account, as in 'app'@'%'. */
  readonly accountHost: string;
  readonly strategy: MysqlStrategy;
  /** Another secret holding JSON {username, password} of an account allowed to ALTER USER. */
  readonly adminSecret?: string | undefined;
  readonly passwordLength: number;
}

// No control characters in account names, though spaces are allowed (MariaDB accepts
// almost anything there; quoting, not filtering, is what keeps SQL safe).
const NO_CONTROL = /^[^\p{Cc}]+$/u;

function accountName(what: string, max: number) {
  const expected = `expected ${what} of 1 to ${max} characters`;
  return z
    .string({ error: expected })
    .min(1, { error: expected })
    .max(max, { error: expected })
    .regex(NO_CONTROL, { error: 'expected no control characters' });
}

const schema = z
  .strictObject({
    host: hostField(),
    port: intField(1, 65535, 3306),
    database: accountName('a database name', 64).optional(),
    username: accountName('a user name', 80),
    usernames: z
      .tuple([accountName('a user name', 80), accountName('a user name', 80)], {
        error: 'expected two user names',
      })
      .optional(),
    accountHost: accountName('an account host such as "%" or "10.0.0.%"', 255).default('%'),
    strategy: enumField(MYSQL_STRATEGIES, 'alternating'),
    adminSecret: secretNameField('prod/mysql/admin').optional(),
    passwordLength: intField(16, 128, 32),
  })
  .superRefine((config, ctx) => {
    if (config.strategy !== 'single' && config.adminSecret === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['adminSecret'],
        message: `required with strategy "${config.strategy}" (the change is made by an admin account)`,
      });
    }
    if (config.usernames !== undefined) {
      const [a, b] = config.usernames;
      if (a === b) {
        ctx.addIssue({
          code: 'custom',
          path: ['usernames'],
          message: 'expected two different user names',
        });
      } else if (a !== config.username && b !== config.username) {
        ctx.addIssue({
          code: 'custom',
          path: ['usernames'],
          message: `expected to include username ${JSON.stringify(config.username)}`,
        });
      }
      if (config.strategy !== 'alternating') {
        ctx.addIssue({
          code: 'custom',
          path: ['usernames'],
          message: 'only used with strategy "alternating"',
        });
      }
    }
  });

const FIELDS = [
  'host',
  'port',
  'database',
  'username',
  'usernames',
  'accountHost',
  'strategy',
  'adminSecret',
  'passwordLength',
] as const;

/**
 * Validates a raw `mysql` config and applies the defaults.
 * @throws RotorError ERR_INVALID_CONFIG naming the offending field and what it expects.
 */
export function parseMysqlConfig(raw: unknown): MysqlConfig {
  return parseTargetConfig('mysql', schema, FIELDS, raw);
}

/** The config of a secret the engine hands to a step, checked again rather than cast. */
export function mysqlConfigOf(secret: RotatorSecret): MysqlConfig {
  return parseMysqlConfig(secret.config);
}

/** The two logins a credential may name: both of the pair with `alternating`, else the one. */
export function mysqlLogins(config: MysqlConfig): readonly string[] {
  if (config.strategy !== 'alternating') return [config.username];
  return config.usernames ?? [config.username, `${config.username}_b`];
}
