import { RotorApiError } from './api-error.js';
import type { SecretEntry } from './rotor-client.js';

/** The value of a `postgres`, `mysql` or `redis` secret. */
export interface DatabaseCredential {
  readonly engine: string;
  readonly host: string;
  readonly port: number;
  readonly database?: string;
  readonly username: string;
  readonly password: string;
}

/** Reads credential JSON; the error names the secret and version, never the value. */
export function parseDatabaseCredential(entry: SecretEntry): DatabaseCredential {
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.value);
  } catch {
    parsed = undefined;
  }
  const c = parsed as Partial<DatabaseCredential> | undefined;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.host !== 'string' ||
    typeof c.port !== 'number' ||
    typeof c.username !== 'string' ||
    typeof c.password !== 'string' ||
    (c.database !== undefined && typeof c.database !== 'string')
  ) {
    throw new RotorApiError(
      'ERR_INVALID_INPUT',
      0,
      `value of ${entry.name} (version ${entry.version}): expected credential JSON {"engine","host","port","database","username","password"}`,
    );
  }
  return {
    engine: typeof c.engine === 'string' ? c.engine : '',
    host: c.host,
    port: c.port,
    database: c.database,
    username: c.username,
    password: c.password,
  };
}
