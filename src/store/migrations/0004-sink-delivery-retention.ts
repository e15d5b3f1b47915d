import { type Kysely, type Migration, sql } from 'kysely';

/** Finished sink deliveries by when they finished: pruning old ones is one range scan. */
export function sinkDeliveryRetentionMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex('sink_deliveries_finished')
        .on('sink_deliveries')
        .column('delivered_at')
        .where(sql.ref('delivered_at'), 'is not', null)
        .execute();
    },
  };
}
