import type SqliteDatabase from 'better-sqlite3';
import type { Selectable } from 'kysely';
import { type AuditEventRow, chainedAuditRows, lastHash, missingHead } from './audit-append.js';
import type { AuditBatchTransaction, RunAuditBatch } from './audit-batch.js';
import { AUDIT_EVENT_COLUMNS, type VersionsTable } from './schema.js';
import { missingSecret, missingVersion, sealedVersionOf } from './version-reads.js';

export interface SqliteAuditBatchOptions {
  readonly connection: SqliteDatabase.Database;
  /** Runs `work` once every other writer of this database in the process is done. */
  readonly serialise: <T>(work: () => Promise<T>) => Promise<T>;
  /** Called before each batch's transaction begins, on the connection. */
  readonly beforeBegin: () => void;
  /** Resolves once every commit made before the call is on disk. */
  readonly flush: () => Promise<void>;
}

// Descending, ending with 1: any number of rows is a sum of these.
const INSERT_CHUNKS = [64, 16, 4, 1];

const VERSION_BY = (column: string) =>
  `select versions.* from versions join secrets on secrets.id = versions.secret_id where secrets.name = ? and versions.${column} = ?`;

/**
 * Group-commit batches on SQLite, run with statements prepared once on the
 * connection. Audited reads are the API's hottest path, and building and
 * compiling each batch's queries through the query layer cost several times
 * what SQLite spends running them (bench/api). The statements are the same
 * as the query layer's, and the chain rows come from the same function.
 */
export function sqliteAuditBatch(options: SqliteAuditBatchOptions): RunAuditBatch {
  const { connection } = options;
  let statements: ReturnType<typeof prepare> | undefined;
  const prepare = () => ({
    begin: connection.prepare('begin immediate'),
    commit: connection.prepare('commit'),
    rollback: connection.prepare('rollback'),
    versionByStage: connection.prepare<[string, string], Selectable<VersionsTable>>(
      VERSION_BY('stage'),
    ),
    versionByNumber: connection.prepare<[string, number], Selectable<VersionsTable>>(
      VERSION_BY('number'),
    ),
    secretExists: connection.prepare<[string], { id: number }>(
      'select id from secrets where name = ?',
    ),
    bumpHead: connection.prepare<[number], { seq: number; hash: string }>(
      'update audit_head set seq = seq + ? where id = 1 returning seq, hash',
    ),
    setHead: connection.prepare<[string]>('update audit_head set hash = ? where id = 1'),
  });
  // One statement per chunk size: a multi-row insert costs less per row than one per row.
  const inserts = new Map<number, SqliteDatabase.Statement<unknown[]>>();
  const insertRows = (rows: readonly AuditEventRow[]) => {
    let at = 0;
    for (const size of INSERT_CHUNKS) {
      for (; rows.length - at >= size; at += size) {
        let insert = inserts.get(size);
        if (!insert) {
          const tuple = `(${AUDIT_EVENT_COLUMNS.map(() => '?').join(', ')})`;
          insert = connection.prepare(
            `insert into audit_events (${AUDIT_EVENT_COLUMNS.join(', ')}) values ${Array(size).fill(tuple).join(', ')}`,
          );
          inserts.set(size, insert);
        }
        insert.run(
          rows.slice(at, at + size).flatMap((row) => AUDIT_EVENT_COLUMNS.map((c) => row[c])),
        );
      }
    }
  };

  return (work) =>
    options
      .serialise(async () => {
        // Prepared on first use: the tables exist only once migrations have run.
        statements ??= prepare();
        const s = statements;
        const tx: AuditBatchTransaction = {
          async readVersion(name, selector) {
            const row =
              'stage' in selector
                ? s.versionByStage.get(name, selector.stage)
                : s.versionByNumber.get(name, selector.version);
            if (row) return sealedVersionOf(row, name);
            throw s.secretExists.get(name) ? missingVersion(name, selector) : missingSecret(name);
          },
          async appendEvents(entries, now) {
            if (entries.length === 0) return;
            const head = s.bumpHead.get(entries.length);
            if (!head) throw missingHead();
            const rows = chainedAuditRows(entries, head.seq - entries.length, head.hash, now);
            insertRows(rows);
            s.setHead.run(lastHash(rows, head.hash));
          },
        };
        options.beforeBegin();
        s.begin.run();
        try {
          const result = await work(tx);
          s.commit.run();
          return result;
        } catch (error) {
          s.rollback.run();
          throw error;
        }
      })
      .then(async (result) => {
        await options.flush();
        return result;
      });
}
