import { createHash } from 'node:crypto';
import { RotorError } from '../../core/errors.js';
import type { MysqlServer } from './mysql-connection.js';

/** A MySQL / MariaDB account: 'user'@'host'. */
export interface MysqlAccount {
  readonly user: string;
  readonly host: string;
}

/**
 * An identifier in backticks. Account names are quoted this way rather than as string
 * literals because backtick quoting means the same under every sql_mode (a backslash in a
 * '...' literal is an escape, or not, depending on NO_BACKSLASH_ESCAPES).
 */
export function quoteId(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

export function accountSql(account: MysqlAccount): string {
  return `${quoteId(account.user)}@${quoteId(account.host)}`;
}

/** A string literal for the session's sql_mode. */
export function quoteString(value: string, server: MysqlServer): string {
  const escaped = server.noBackslashEscapes ? value : value.replaceAll('\\', '\\\\');
  return `'${escaped.replaceAll("'", "''")}'`;
}

/** The mysql_native_password hash: '*' and the upper-case hex of SHA1(SHA1(password)). */
export function nativePasswordHash(password: string): string {
  const inner = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(inner).digest('hex').toUpperCase()}`;
}

/**
 * The clause that sets a password. MariaDB takes the mysql_native_password hash, so the
 * plaintext never reaches the general log, the slow log or the binary log. MySQL 8 has no
 * portable pre-hashed form for caching_sha2_password (and RETAIN CURRENT PASSWORD needs
 * the plaintext); it rewrites the password as <secret> in its own logs instead.
 */
export function identifiedBy(server: MysqlServer, password: string): string {
  return server.mariadb
    ? `IDENTIFIED BY PASSWORD '${nativePasswordHash(password)}'`
    : `IDENTIFIED BY ${quoteString(password, server)}`;
}

/** What to cut out of server messages quoted in errors for a statement that set `password`. */
export function secretsOf(password: string): string[] {
  return [password, nativePasswordHash(password)];
}

/**
 * The statements that give `to` the grants SHOW GRANTS listed for `from`: the grantee is
 * replaced, the password part of the USAGE line is dropped (`to` has its own) and a USAGE
 * line left with nothing else to say is skipped. Fails on a line it cannot rewrite rather
 * than creating a login with only part of the grants.
 */
export function copiedGrants(
  lines: readonly string[],
  from: MysqlAccount,
  to: MysqlAccount,
): string[] {
  const forms = printedForms(from);
  const statements: string[] = [];
  for (const line of lines) {
    const keyword = line.startsWith('SET DEFAULT ROLE ') ? ' FOR ' : ' TO ';
    const match = forms
      .map((form) => ({ form, index: line.lastIndexOf(`${keyword}${form}`) }))
      .find(({ index }) => index >= 0);
    if (match === undefined) {
      throw new RotorError(
        'ERR_TARGET_REJECTED',
        `cannot copy the grants of ${accountSql(from)}: a line of SHOW GRANTS does not name it as grantee`,
      );
    }
    const head = line.slice(0, match.index);
    const tail = line
      .slice(match.index + keyword.length + match.form.length)
      .replace(/^ IDENTIFIED .*?(?= REQUIRE | WITH |$)/, '');
    if (/^GRANT USAGE ON \*\.\* $/.test(`${head} `) && tail === '') continue;
    statements.push(`${head}${keyword}${accountSql(to)}${tail}`);
  }
  return statements;
}

/** The ways servers print an account in SHOW GRANTS: MariaDB and MySQL 8 use backticks. */
function printedForms(account: MysqlAccount): string[] {
  const quoted = (escapeName: (s: string) => string) =>
    `'${escapeName(account.user)}'@'${escapeName(account.host)}'`;
  return [
    accountSql(account),
    quoted((s) => s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")),
    quoted((s) => s.replaceAll("'", "''")),
  ];
}
