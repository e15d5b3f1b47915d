import { RotorError } from '../core/errors.js';
import type { OpenOptions } from './sqlite-store.js';
import type { Store } from './store.js';

/** Opens the store named by a `ROTOR_STORE` value: `sqlite:PATH` or a `postgres://` URL. */
export async function openStore(url: string, options: OpenOptions): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '')
      throw new RotorError(
        'ERR_STORE_URL',
        'ROTOR_STORE sqlite: needs a file path, e.g. sqlite:/var/lib/rotor/rotor.db',
      );
    // Each driver is loaded only when its store is used: the CLI starts faster.
    const { openSqliteStore } = await import('./sqlite-store.js');
    return openSqliteStore(path, options);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { openPostgresStore } = await import('./postgres-store.js');
    return openPostgresStore(url, options);
  }
  throw new RotorError(
    'ERR_STORE_URL',
    `ROTOR_STORE must be sqlite:PATH or a postgres:// URL (got ${JSON.stringify(url.slice(0, 12))}…)`,
  );
}
