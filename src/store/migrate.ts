import { type Kysely, type Migration, Migrator } from 'kysely';
import { RotorError } from '../core/errors.js';
import { initialMigration } from './migrations/0001-initial.js';
import { driftChecksMigration } from './migrations/0002-drift-checks.js';
import { sinkOutboxMigration } from './migrations/0003-sink-outbox.js';
import { sinkDeliveryRetentionMigration } from './migrations/0004-sink-delivery-retention.js';
import type { StoreDialect } from './store.js';

/** Versioned schema changes, applied in name order, each at most once. */
function migrations(dialect: StoreDialect): Record<string, Migration> {
  return {
    '0001-initial': initialMigration(dialect),
    '0002-drift-checks': driftChecksMigration(),
    '0003-sink-outbox': sinkOutboxMigration(dialect),
    '0004-sink-delivery-retention': sinkDeliveryRetentionMigration(),
  };
}

function migrator(db: Kysely<unknown>, dialect: StoreDialect): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations(dialect) },
    migrationTableName: 'rotor_migrations',
    migrationLockTableName: 'rotor_migrations_lock',
  });
}

/** Names of the migrations this build knows that the store has not applied. */
export async function pendingMigrations(
  db: Kysely<unknown>,
  dialect: StoreDialect,
): Promise<string[]> {
  const known = await migrator(db, dialect).getMigrations();
  return known.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

export async function migrateToLatest(db: Kysely<unknown>, dialect: StoreDialect): Promise<void> {
  const { error, results } = await migrator(db, dialect).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const reason = error instanceof Error ? error.message : String(error);
    throw new RotorError('ERR_STORE', `store migration ${failed} failed: ${reason}`, {
      cause: error,
    });
  }
}
