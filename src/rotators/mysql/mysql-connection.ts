import { type Connection, createConnection } from 'mysql2/promise';
import { isRotorError, RotorError } from '../../core/errors.js';

export interface MysqlEndpoint {
  readonly host: string;
  readonly port: number;
  readonly database?: string | undefined;
}

export interface MysqlLogin {
  readonly username: string;
  readonly password: string;
}

/** What `SELECT VERSION()` says about the server: the SQL Rotor may send depends on it. */
export interface MysqlServer {
  readonly mariadb: boolean;
  /** [major, minor, patch] */
  readonly version: readonly [number, number, number];
  readonly versionText: string;
  /** With NO_BACKSLASH_ESCAPES a backslash in a string literal is an ordinary character. */
  readonly noBackslashEscapes: boolean;
}

/** An open connection with what it needs to describe its failures. */
export interface MysqlSession {
  readonly connection: Connection;
  readonly endpoint: MysqlEndpoint;
  /** Names the login in errors, such as `user "app"@"%"`. */
  readonly who: string;
  /** Plaintexts and hashes to cut out of any server message quoted in an error. */
  readonly secrets: string[];
}

const CONNECT_TIMEOUT_MS = 3_000;
/** Longer than the 10 s GET_LOCK wait, so a held lock reports as such rather than a timeout. */
const QUERY_TIMEOUT_MS = 15_000;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

const AUTH_CODES = new Set([
  'ER_ACCESS_DENIED_ERROR',
  'ER_ACCOUNT_HAS_BEEN_LOCKED',
  'ER_MUST_CHANGE_PASSWORD_LOGIN',
]);

/**
 * Opens one fresh connection as `login`, runs `work` and always closes it. Failures become
 * RotorErrors naming host:port and the user, never a password: the driver error is not
 * kept as cause, because it carries the SQL text.
 */
export async function withMysql<T>(
  endpoint: MysqlEndpoint,
  login: MysqlLogin,
  who: string,
  work: (session: MysqlSession) => Promise<T>,
): Promise<T> {
  const session = { endpoint, who, secrets: [login.password] };
  let connection: Connection;
  try {
    connection = await createConnection({
      host: endpoint.host,
      port: endpoint.port,
      user: login.username,
      password: login.password,
      ...(endpoint.database === undefined ? {} : { database: endpoint.database }),
      connectTimeout: CONNECT_TIMEOUT_MS,
      multipleStatements: false,
    });
  } catch (error) {
    throw mysqlError(error, session, 'log in');
  }
  // A connection dropped while idle reports through an event; without a listener it would crash.
  connection.on('error', () => {});
  try {
    return await work({ ...session, connection });
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

/** Runs one statement; a failure becomes a RotorError saying what was attempted. */
export async function run<R = unknown>(
  session: MysqlSession,
  sql: string,
  what: string,
): Promise<R[]> {
  try {
    const [rows] = await session.connection.query({ sql, timeout: QUERY_TIMEOUT_MS });
    return Array.isArray(rows) ? (rows as R[]) : [];
  } catch (error) {
    throw mysqlError(error, session, what);
  }
}

export async function describeServer(session: MysqlSession): Promise<MysqlServer> {
  const [row] = await run<{ version: string; mode: string }>(
    session,
    'SELECT VERSION() AS version, @@SESSION.sql_mode AS mode',
    'read the server version',
  );
  const versionText = String(row?.version ?? '');
  const [major = 0, minor = 0, patch = 0] = (/^(\d+)\.(\d+)\.(\d+)/.exec(versionText) ?? [])
    .slice(1)
    .map(Number);
  return {
    mariadb: /mariadb/i.test(versionText),
    version: [major, minor, patch],
    versionText,
    noBackslashEscapes: String(row?.mode ?? '').includes('NO_BACKSLASH_ESCAPES'),
  };
}

/** The error code of a mysql2 failure (ER_ACCESS_DENIED_ERROR, ECONNREFUSED...), if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function mysqlError(
  error: unknown,
  session: Pick<MysqlSession, 'endpoint' | 'who' | 'secrets'>,
  what: string,
): RotorError {
  if (isRotorError(error)) return error;
  const at = `mysql at ${session.endpoint.host}:${session.endpoint.port}`;
  const code = errorCode(error);
  if (code !== undefined && AUTH_CODES.has(code)) {
    return new RotorError(
      'ERR_TARGET_AUTH',
      `${at} refused the password of ${session.who} (${code})`,
    );
  }
  if (code === 'ER_DBACCESS_DENIED_ERROR') {
    return new RotorError(
      'ERR_TARGET_REJECTED',
      `${at} accepted ${session.who} but denied database ${JSON.stringify(session.endpoint.database)} (${code})`,
    );
  }
  if ((code !== undefined && NETWORK_CODES.has(code)) || isClosed(error)) {
    return new RotorError(
      'ERR_TARGET_UNREACHABLE',
      `${at} is unreachable for ${session.who} (${code ?? 'connection closed'})`,
    );
  }
  const detail = serverMessage(error, session.secrets);
  return new RotorError(
    'ERR_TARGET_REJECTED',
    `${at} refused to ${what} for ${session.who} (${code ?? 'unknown error'}${detail ? `: ${detail}` : ''})`,
  );
}

/** The server's own words, with every password and hash handled cut out, on one short line. */
function serverMessage(error: unknown, secrets: readonly string[]): string {
  const raw = (error as { sqlMessage?: unknown } | undefined)?.sqlMessage;
  if (typeof raw !== 'string') return '';
  let message = raw;
  for (const secret of secrets) {
    if (secret.length > 0) message = message.split(secret).join('[redacted]');
  }
  message = message.replace(/\s+/g, ' ').trim();
  return message.length > 200 ? `${message.slice(0, 199)}…` : message;
}

function isClosed(error: unknown): boolean {
  return (
    error instanceof Error &&
    /closed state|connection is closed|Connection lost/i.test(error.message)
  );
}
