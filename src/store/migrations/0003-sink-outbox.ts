import { type Kysely, type Migration, sql } from 'kysely';
import type { StoreDialect } from '../store.js';

/**
 * The sink outbox: one row per sink to publish a newly current version to,
 * written in the transaction that made it current, so a crash cannot lose a publish.
 */
export function sinkOutboxMigration(dialect: StoreDialect): Migration {
  const big = 'bigint';
  return {
    async up(db: Kysely<unknown>) {
      const table =
        dialect === 'postgres'
          ? db.schema
              .createTable('sink_deliveries')
              .addColumn('id', 'bigserial', (c) => c.primaryKey())
          : db.schema
              .createTable('sink_deliveries')
              .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await table
        // By id, not name: a secret deleted and created again never receives the old one's deliveries.
        .addColumn('secret_id', big, (c) =>
          c.notNull().references('secrets.id').onDelete('cascade'),
        )
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('sink_index', 'integer', (c) => c.notNull())
        // The sink as configured at promotion: a later policy change does not alter a queued delivery.
        .addColumn('sink', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', big, (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('outcome', 'text')
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('delivered_at', big)
        .addCheckConstraint(
          'sink_deliveries_outcome_known',
          sql`outcome is null or outcome in ('delivered', 'obsolete')`,
        )
        .execute();
      // Draining the outbox is one range scan over the deliveries still to make.
      await db.schema
        .createIndex('sink_deliveries_due')
        .on('sink_deliveries')
        .columns(['next_attempt_at', 'id'])
        .where(sql.ref('delivered_at'), 'is', null)
        .execute();
      await db.schema
        .createIndex('sink_deliveries_secret')
        .on('sink_deliveries')
        .columns(['secret_id', 'id'])
        .execute();
    },
  };
}
