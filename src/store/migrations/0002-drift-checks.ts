import { type Kysely, type Migration, sql } from 'kysely';

/** When each secret's current value is next checked on its target (drift), indexed like rotations. */
export function driftChecksMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('secrets').addColumn('next_check_at', 'bigint').execute();
      await db.schema
        .createIndex('secrets_check_due')
        .on('secrets')
        .columns(['next_check_at', 'name'])
        .where(sql.ref('next_check_at'), 'is not', null)
        .execute();
    },
  };
}
