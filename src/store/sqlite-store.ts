import { closeSync, existsSync, openSync, realpathSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { RotorError } from '../core/errors.js';
import type { Durability, WriteTransaction } from './kysely-db.js';
import { KyselyStore } from './kysely-store.js';
import { migrateToLatest } from './migrate.js';
import type { Database } from './schema.js';
import { sqliteAuditBatch } from './sqlite-audit-batch.js';
import { cachingStatements } from './sqlite-statement-cache.js';
import { WalSync } from './wal-sync.js';

export interface OpenOptions {
  /** Create the store when it does not exist (only `rotor init` does). */
  readonly create: boolean;
  readonly now?: () => Date;
}

/**
 * better-sqlite3 blocks the thread while it waits for another writer. Two
 * stores on one file in one process would wait on each other forever, so
 * writers in a process queue here first; other processes wait on SQLite's lock.
 */
const writeQueues = new Map<string, Promise<unknown>>();

function serialised(key: string): <T>(work: () => Promise<T>) => Promise<T> {
  return (work) => {
    const previous = writeQueues.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const settled = result.catch(() => undefined);
    writeQueues.set(key, settled);
    void settled.then(() => {
      if (writeQueues.get(key) === settled) writeQueues.delete(key);
    });
    return result;
  };
}

export async function openSqliteStore(path: string, options: OpenOptions): Promise<KyselyStore> {
  if (!options.create && !existsSync(path)) {
    throw new RotorError(
      'ERR_NOT_INITIALISED',
      `no Rotor store at ${path}; run \`rotor init\` first or set ROTOR_HOME`,
    );
  }
  // SQLite gives its -wal and -shm files the mode of the database file, so creating it 0600 covers all three.
  if (options.create) closeSync(openSync(path, 'a', 0o600));
  const connection = new SqliteDatabase(path);
  connection.pragma('journal_mode = WAL');
  connection.pragma('busy_timeout = 10000');
  connection.pragma('foreign_keys = ON');
  // A secret written must survive a power cut: fsync on every commit unless a transaction says otherwise.
  connection.pragma('synchronous = FULL');
  const statements = cachingStatements(connection);
  const wal = new WalSync(`${path}-wal`);
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({
      database: {
        prepare: (text) => statements.prepare(text),
        close() {
          statements.close();
          wal.close();
        },
      },
    }),
  });
  const queue = serialised(realpathSync(path));
  // The connection keeps the setting between transactions: only a change costs a statement.
  let synchronous = 'FULL';
  const useSynchronous = (durability: Durability) => {
    // FULL fsyncs the WAL at commit; NORMAL leaves it to the next checkpoint (safe against a process crash).
    const wanted = durability === 'durable' ? 'FULL' : 'NORMAL';
    if (wanted !== synchronous) {
      connection.pragma(`synchronous = ${wanted}`);
      synchronous = wanted;
    }
  };
  const write: WriteTransaction = (work, durability = 'durable') =>
    queue(() =>
      db.connection().execute(async (conn) => {
        useSynchronous(durability);
        // IMMEDIATE takes the write lock up front, so a transaction that reads
        // before it writes cannot fail later with SQLITE_BUSY.
        await sql`begin immediate`.execute(conn);
        try {
          const result = await work(conn);
          await sql`commit`.execute(conn);
          return result;
        } catch (error) {
          await sql`rollback`.execute(conn);
          throw error;
        }
      }),
    );
  // Group commits do not block the thread on the fsync: the WAL is flushed
  // asynchronously after the commit, and callers wait for that flush.
  const auditBatch = sqliteAuditBatch({
    connection,
    serialise: queue,
    beforeBegin: () => useSynchronous('replayable'),
    flush: () => wal.flush(),
  });
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>, 'sqlite');
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStore({
    db,
    dialect: 'sqlite',
    location: `sqlite:${path}`,
    write,
    auditBatch,
    now: options.now,
  });
}
