import { type Kysely, type Migration, sql } from 'kysely';
import { GENESIS_HASH } from '../../audit/audit-event.js';
import type { StoreDialect } from '../store.js';

/** The first schema: secrets, versions, rotations, the audit chain, tokens and master keys. */
export function initialMigration(dialect: StoreDialect): Migration {
  const blob = dialect === 'postgres' ? 'bytea' : 'blob';
  const big = 'bigint';
  return {
    async up(db: Kysely<unknown>) {
      const id = (t: string) =>
        dialect === 'postgres'
          ? db.schema.createTable(t).addColumn('id', 'bigserial', (c) => c.primaryKey())
          : db.schema
              .createTable(t)
              .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

      await id('secrets')
        // Byte order for names, as in SQLite: listings, prefixes and keyset paging agree on both stores.
        .addColumn('name', 'text', (c) =>
          dialect === 'postgres'
            ? c.notNull().unique().modifyEnd(sql`collate "C"`)
            : c.notNull().unique(),
        )
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('last_version', 'integer', (c) => c.notNull())
        .addColumn('next_rotation_at', big)
        .addColumn('last_rotated_at', big)
        .addColumn('failure_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('updated_at', big, (c) => c.notNull())
        .execute();
      // Finding due work is one range scan over this index, whatever the number of secrets.
      await db.schema
        .createIndex('secrets_due')
        .on('secrets')
        .columns(['next_rotation_at', 'name'])
        .where(sql.ref('next_rotation_at'), 'is not', null)
        .execute();

      await id('versions')
        .addColumn('secret_id', big, (c) =>
          c.notNull().references('secrets.id').onDelete('cascade'),
        )
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('stage', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('ciphertext', blob)
        .addColumn('wrapped_key', blob)
        .addColumn('master_key_version', 'integer')
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('grace_until', big)
        .addColumn('destroyed_at', big)
        .addUniqueConstraint('versions_secret_number', ['secret_id', 'number'])
        .addCheckConstraint(
          'versions_stage_known',
          sql`stage in ('current', 'pending', 'previous')`,
        )
        .execute();
      // The stage invariants live in the database: two writers cannot both win.
      await db.schema
        .createIndex('versions_one_per_stage')
        .on('versions')
        .columns(['secret_id', 'stage'])
        .unique()
        .where(sql.ref('stage'), 'is not', null)
        .execute();
      await db.schema
        .createIndex('versions_grace_until')
        .on('versions')
        .column('grace_until')
        .where(sql.ref('grace_until'), 'is not', null)
        .execute();

      await id('rotations')
        .addColumn('secret_id', big, (c) =>
          c.notNull().references('secrets.id').onDelete('cascade'),
        )
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('from_version', 'integer', (c) => c.notNull())
        .addColumn('to_version', 'integer')
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', big)
        .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('error', 'text')
        .addColumn('dry_run', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('updated_at', big, (c) => c.notNull())
        .addColumn('finished_at', big)
        .execute();
      // At most one rotation per secret in flight, enforced by the store.
      await db.schema
        .createIndex('rotations_one_in_flight')
        .on('rotations')
        .column('secret_id')
        .unique()
        .where(sql.ref('finished_at'), 'is', null)
        .execute();

      await db.schema
        .createTable('audit_events')
        .addColumn('seq', big, (c) => c.primaryKey())
        .addColumn('at', big, (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('secret', 'text')
        .addColumn('version', 'integer')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('audit_events_secret')
        .on('audit_events')
        .columns(['secret', 'seq'])
        .execute();
      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('seq', big, (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await sql`insert into audit_head (id, seq, hash) values (1, 0, ${GENESIS_HASH})`.execute(db);

      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('expires_at', big)
        .addColumn('revoked_at', big)
        .execute();

      await db.schema
        .createTable('master_keys')
        .addColumn('version', 'integer', (c) => c.primaryKey())
        .addColumn('key_check', 'text', (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .execute();
    },
  };
}
