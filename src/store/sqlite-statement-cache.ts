import type SqliteDatabase from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase, SqliteStatement } from 'kysely';

// Rotor's queries are a few dozen shapes; multi-row inserts add one per batch size.
const STATEMENTS = 256;

/**
 * The connection as Kysely's SQLite dialect sees it, keeping compiled
 * statements by their SQL. Kysely prepares every query it runs, and compiling
 * one costs more than running it on Rotor's small, indexed lookups.
 */
export function cachingStatements(connection: SqliteDatabase.Database): KyselySqliteDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => connection.close(),
    prepare(sql: string): SqliteStatement {
      const cached = cache.get(sql);
      // A statement still being iterated by a stream cannot run again until it is done.
      if (cached && !cached.busy) return cached;
      const statement = connection.prepare(sql);
      if (cached) return statement;
      // The oldest goes first: shapes in use come straight back.
      if (cache.size >= STATEMENTS) cache.delete(cache.keys().next().value as string);
      cache.set(sql, statement);
      return statement;
    },
  };
}
