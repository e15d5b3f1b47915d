import pg from 'pg';
import { RotorError, type RotorErrorCode } from '../../core/errors.js';
import { scramSha256VerifierAsync } from './scram-verifier.js';

const CONNECT_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 30_000;
const TIMEOUT_MESSAGE = 'timeout expired';
/** How long a change waits for another Rotor process changing the same role. */
const LOCK_TIMEOUT = '20s';

export interface Login {
  readonly username: string;
  readonly password: string;
}

export interface TargetAddress {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly sslmode: 'disable' | 'require' | 'verify-full';
}

export interface PasswordChange {
  /** The role whose password changes. */
  readonly role: string;
  /** The new password: only its SCRAM verifier is sent, never the password as SQL. */
  readonly password: string;
  /** The login changes its own password (`ALTER ROLE CURRENT_USER`). */
  readonly self?: boolean;
  /** Creates the role when it is missing, as a login in the same roles as this one. */
  readonly createLike?: string;
  /** Does nothing when the role does not exist. */
  readonly skipIfMissing?: boolean;
}

/**
 * One PostgreSQL server as a rotation target. Every call opens a fresh
 * connection (never a pooled one, which could prove an old login) and closes
 * it; driver errors become {@link RotorError}s naming the server and the role,
 * never a password.
 */
export class PostgresTarget {
  readonly #address: TargetAddress;

  constructor(address: TargetAddress) {
    this.#address = address;
  }

  /** `host:port/database`, as error messages name the target. */
  get label(): string {
    const { host, port, database } = this.#address;
    return `${host.includes(':') ? `[${host}]` : host}:${port}/${database}`;
  }

  /** Logs in as `login` and runs `SELECT 1`. */
  async login(login: Login, purpose: string): Promise<void> {
    await this.#withClient([login], purpose, async (client) => {
      await client.query('SELECT 1');
    });
  }

  /**
   * Sets a role's password, logged in with the first of `logins` the server
   * accepts. Changes of one role are serialised across Rotor processes by an
   * advisory lock held until commit: two concurrent `ALTER ROLE` of one role
   * otherwise fail with "tuple concurrently updated". `logins` may still be
   * read (from the store): the verifier's PBKDF2 runs on the thread pool
   * meanwhile, and while the connection opens.
   */
  async changePassword(
    logins: readonly Login[] | Promise<readonly Login[]>,
    change: PasswordChange,
    purpose: string,
  ): Promise<void> {
    const verifier = scramSha256VerifierAsync(change.password);
    // Awaited once connected; logins or a connection that fail must not leave it unhandled.
    verifier.catch(() => undefined);
    await this.#withClient(await logins, purpose, async (client) => {
      const role = change.self ? 'CURRENT_USER' : pg.escapeIdentifier(change.role);
      const alter = `ALTER ROLE ${role} PASSWORD ${pg.escapeLiteral(await verifier)}`;
      // One round trip when the role exists, as on every rotation but an alternating one's
      // first: the server runs a simple query's statements in order and skips the rest after
      // an error. Closing the connection rolls back a transaction left open by one.
      try {
        await client.query(`${lockRole(change.role)}; ${alter}; COMMIT`);
        return;
      } catch (error) {
        const missing = !change.self && isUndefinedObject(error);
        if (!missing || (change.createLike === undefined && !change.skipIfMissing)) throw error;
      }
      if (change.createLike === undefined) return;
      await client.query('ROLLBACK');
      await client.query(lockRole(change.role));
      // Another process may have created it since, under the same lock.
      if (!(await roleExists(client, change.role)))
        await this.#createLoginLike(client, change.role, change.createLike);
      await client.query(`${alter}; COMMIT`);
    });
  }

  /** Creates `role` as a login member of the roles `model` is a member of, inheriting as it does. */
  async #createLoginLike(client: pg.Client, role: string, model: string): Promise<void> {
    const found = await client.query<{ rolinherit: boolean }>(
      'SELECT rolinherit FROM pg_roles WHERE rolname = $1',
      [model],
    );
    const source = found.rows[0];
    if (source === undefined) {
      throw new RotorError(
        'ERR_TARGET_REJECTED',
        `role ${showRole(model)} does not exist on ${this.label}, so ${showRole(role)} cannot be created with its memberships`,
      );
    }
    const inherit = source.rolinherit ? 'INHERIT' : 'NOINHERIT';
    await client.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN ${inherit}`);
    const groups = await client.query<{ rolname: string }>(
      `SELECT DISTINCT g.rolname
         FROM pg_auth_members m
         JOIN pg_roles g ON g.oid = m.roleid
         JOIN pg_roles u ON u.oid = m.member
        WHERE u.rolname = $1
        ORDER BY 1`,
      [model],
    );
    for (const { rolname } of groups.rows) {
      await client.query(`GRANT ${pg.escapeIdentifier(rolname)} TO ${pg.escapeIdentifier(role)}`);
    }
  }

  async #withClient(
    logins: readonly Login[],
    purpose: string,
    work: (client: pg.Client) => Promise<void>,
  ): Promise<void> {
    const client = await this.#connectFirst(logins, purpose);
    const login = logins.find((each) => each.username === client.user) ?? logins[0];
    try {
      await work(client);
    } catch (error) {
      throw this.#targetError(error, purpose, login, logins);
    } finally {
      // Not awaited: the work is committed or proven by now, and the server's goodbye
      // (its backend exiting) proceeds while the rotation records the step.
      client.end().catch(() => undefined);
    }
  }

  /** Connects with the first login the server accepts; the first failure wins otherwise. */
  async #connectFirst(logins: readonly Login[], purpose: string): Promise<pg.Client> {
    let firstError: RotorError | undefined;
    for (const login of logins) {
      const client = this.#client(login);
      const started = Date.now();
      try {
        await client.connect();
        return client;
      } catch (error) {
        await client.end().catch(() => undefined);
        // pg reports its own connect timeout as "Connection terminated unexpectedly".
        const timedOut =
          !(error instanceof pg.DatabaseError) && Date.now() - started >= CONNECT_TIMEOUT_MS;
        const cause = timedOut ? new Error(TIMEOUT_MESSAGE) : error;
        const failure = this.#targetError(cause, purpose, login, logins);
        if (failure.code !== 'ERR_TARGET_AUTH') throw failure;
        firstError ??= failure;
      }
    }
    throw firstError ?? new TypeError('PostgresTarget: no login given');
  }

  #client(login: Login): pg.Client {
    const { host, port, database, sslmode } = this.#address;
    const client = new pg.Client({
      host,
      port,
      database,
      user: login.username,
      password: login.password,
      ssl: sslmode === 'disable' ? false : { rejectUnauthorized: sslmode === 'verify-full' },
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      application_name: 'rotor',
    });
    // A server that drops the connection also fails the pending query; this keeps the
    // 'error' event from crashing the process.
    client.on('error', () => undefined);
    return client;
  }

  #targetError(
    error: unknown,
    purpose: string,
    login: Login | undefined,
    logins: readonly Login[],
  ): RotorError {
    if (error instanceof RotorError)
      return new RotorError(error.code, `${purpose}: ${error.message}`);
    const as = login ? ` as role ${showRole(login.username)}` : '';
    const where = `${this.label}${as}`;
    let code: RotorErrorCode;
    let reason: string;
    if (error instanceof pg.DatabaseError) {
      code = databaseErrorCode(error.code);
      reason =
        error.code === '28P01'
          ? `password authentication failed for role ${showRole(login?.username ?? '?')} on ${this.label}`
          : `${error.message}${error.code ? ` (SQLSTATE ${error.code})` : ''} on ${where}`;
    } else {
      code = 'ERR_TARGET_UNREACHABLE';
      reason = `${networkReason(error)} (${where})`;
    }
    // Defence in depth: no message a server or driver writes may carry a password.
    for (const { password } of logins) reason = reason.replaceAll(password, '[redacted]');
    return new RotorError(code, `${purpose}: ${reason}`);
  }
}

/**
 * Opens the transaction of a password change and takes the role's advisory lock
 * (the key is the one every Rotor version takes: `hashtext('rotor:role:' || role)`).
 */
function lockRole(role: string): string {
  return [
    'BEGIN',
    `SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`,
    `SELECT pg_advisory_xact_lock(hashtext(${pg.escapeLiteral(`rotor:role:${role}`)}))`,
  ].join('; ');
}

/** SQLSTATE 42704: `ALTER ROLE` of a role that does not exist. */
function isUndefinedObject(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.code === '42704';
}

async function roleExists(client: pg.Client, role: string): Promise<boolean> {
  const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  return found.rowCount === 1;
}

function databaseErrorCode(sqlstate: string | undefined): RotorErrorCode {
  const state = sqlstate ?? '';
  // 28: invalid authorization (wrong password, no pg_hba entry, role may not log in).
  if (state.startsWith('28')) return 'ERR_TARGET_AUTH';
  // 08: connection exceptions; 53300: too many connections; 57P0x: shutting down or starting
  // up; 55P03 and 57014: lock_timeout and statement_timeout. All pass if one waits.
  const transient = ['53300', '55P03', '57014'];
  if (state.startsWith('08') || state.startsWith('57P') || transient.includes(state)) {
    return 'ERR_TARGET_UNREACHABLE';
  }
  return 'ERR_TARGET_REJECTED';
}

function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message === TIMEOUT_MESSAGE) {
    return `connection timed out after ${CONNECT_TIMEOUT_MS / 1000} s`;
  }
  const code = (error as NodeJS.ErrnoException).code;
  // Node reports a host with several addresses as an AggregateError with an empty message.
  const message = error.message || (error instanceof AggregateError ? String(error.errors[0]) : '');
  if (code && !message.includes(code)) return `${code}: ${message}`.replace(/: $/, '');
  return message || 'connection failed';
}

/** A role name as messages show it: plain when it is plain, JSON-quoted otherwise. */
export function showRole(role: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(role) ? role : JSON.stringify(role);
}
