import { type Kysely, type Migration, Migrator } from 'kysely';
import { RotorError } from '../core/errors.js';
import { initialMigration } from './migrations/0001-initial.js';
import { driftChecksMigration } from './migrations/0002-drift-checks.js';
import type { StoreDialect } from './store.js';

/** Versioned schema changes, applied in name order, each at most once. */
function migrations(dialect: StoreDialect): Record<string, Migration> {
  return { '0001-initial': initialMigration(dialect), '0002-drift-checks': driftChecksMigration() };
}

export async function migrateToLatest(db: Kysely<unknown>, dialect: StoreDialect): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(dialect) },
    migrationTableName: 'rotor_migrations',
    migrationLockTableName: 'rotor_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const reason = error instanceof Error ? error.message : String(error);
    throw new RotorError('ERR_STORE', `store migration ${failed} failed: ${reason}`, {
      cause: error,
    });
  }
}
