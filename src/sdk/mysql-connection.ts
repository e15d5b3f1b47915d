import mysql from 'mysql2/promise';
import { credentialSource, type RefusedLogin } from './credential-source.js';
import type { RotorClient } from './rotor-client.js';

export type { RefusedLogin };

export type RotorMysqlOptions = Omit<mysql.ConnectionOptions, 'user' | 'password' | 'uri'> & {
  /** Called each time a login was refused and is retried once with the value read anew. */
  readonly onLoginRefused?: (login: RefusedLogin) => void;
};

/**
 * A `mysql2/promise` connection logged in with the credential stored in the
 * Rotor secret `name` (`{host, port, database, username, password}`), current
 * at connect time. A login refused with ER_ACCESS_DENIED_ERROR makes it read
 * the secret anew and retry once, which closes the window of the `single`
 * strategy. `host`, `port` and `database` in `options` win over the secret's.
 *
 * @example
 * ```ts
 * import { mysqlConnection } from 'rotor/client/mysql';
 * const connection = await mysqlConnection(rotor, 'prod/db/app');
 * ```
 */
export async function mysqlConnection(
  client: RotorClient,
  name: string,
  options: RotorMysqlOptions = {},
): Promise<mysql.Connection> {
  const { onLoginRefused, ...connectionOptions } = options;
  const source = credentialSource(client, name);
  const open = async () => {
    const { version, credential } = await source.current();
    try {
      return await mysql.createConnection({
        ...connectionOptions,
        host: connectionOptions.host ?? credential.host,
        port: connectionOptions.port ?? credential.port,
        database: connectionOptions.database ?? credential.database,
        user: credential.username,
        password: credential.password,
      });
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ER_ACCESS_DENIED_ERROR') throw error;
      return { refused: { name, version, error: error as Error } };
    }
  };
  const first = await open();
  if (!('refused' in first)) return first;
  onLoginRefused?.(first.refused);
  // Without an answer from Rotor there is nothing better to retry with: the refusal stands.
  await source
    .afterAuthFailure(first.refused.version)
    .catch(() => Promise.reject(first.refused.error));
  const second = await open();
  if ('refused' in second) throw second.refused.error;
  return second;
}
