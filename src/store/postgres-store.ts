import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { RotorError } from '../core/errors.js';
import { KyselyStore } from './kysely-store.js';
import { migrateToLatest } from './migrate.js';
import type { Database } from './schema.js';
import type { OpenOptions } from './sqlite-store.js';

const INT8_OID = 20;

/** The URL with its password removed, safe for messages and logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

export async function openPostgresStore(url: string, options: OpenOptions): Promise<KyselyStore> {
  const location = redactUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 10_000,
    // Times are epoch milliseconds in BIGINT columns; they fit a JS number.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format)) as never,
    },
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    if (!options.create) {
      const { rows } = await sql<{
        found: string | null;
      }>`select to_regclass('master_keys')::text as found`.execute(db);
      if (!rows[0]?.found) {
        throw new RotorError(
          'ERR_NOT_INITIALISED',
          `no Rotor store in ${location}; run \`rotor init\` first`,
        );
      }
    }
    await migrateToLatest(db as unknown as Kysely<unknown>, 'postgres');
  } catch (error) {
    await db.destroy();
    if (error instanceof RotorError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new RotorError('ERR_STORE', `cannot open the PostgreSQL store ${location}: ${reason}`, {
      cause: error,
    });
  }
  return new KyselyStore({
    db,
    dialect: 'postgres',
    location,
    write: (work, durability = 'durable') =>
      db.transaction().execute(async (tx) => {
        // Without waiting for the WAL flush; still atomic, still safe against a server process crash.
        if (durability === 'replayable') await sql`set local synchronous_commit = off`.execute(tx);
        return work(tx);
      }),
    now: options.now,
  });
}
