import type SqliteDatabase from 'better-sqlite3';
import type { Selectable } from 'kysely';
import { chainedAuditRows, lastHash, missingHead } from './audit-append.js';
import type { AuditBatchTransaction, RunAuditBatch } from './audit-batch.js';
import type { VersionsTable } from './schema.js';
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
    insertEvent: connection.prepare(
      'insert into audit_events (seq, at, actor, action, secret, version, outcome, details, prev_hash, hash) values (@seq, @at, @actor, @action, @secret, @version, @outcome, @details, @prev_hash, @hash)',
    ),
  });

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
            for (const row of rows) s.insertEvent.run(row);
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
