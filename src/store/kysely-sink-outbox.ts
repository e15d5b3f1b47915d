import type { Selectable } from 'kysely';
import type { AuditInput } from '../audit/audit-event.js';
import { RotorError } from '../core/errors.js';
import type { Policy } from '../core/policy.js';
import type { Sink } from '../core/sink.js';
import { appendAuditEvent } from './audit-append.js';
import type { Db, StoreContext } from './kysely-db.js';
import type { SinkDeliveriesTable } from './schema.js';
import type { SinkDeliveryRecord, SinkOutbox } from './sink-outbox.js';

export interface NewSinkDeliveries {
  readonly secretId: number;
  /** The version that just became current. */
  readonly version: number;
  /** The audit action that made it current. */
  readonly event: string;
  /** Epoch milliseconds: the deliveries are due at once. */
  readonly at: number;
}

/**
 * Queues one delivery per sink of the secret's policy. Call it inside the
 * transaction that makes `version` current, so both commit or neither does.
 */
export async function enqueueSinkDeliveries(tx: Db, input: NewSinkDeliveries): Promise<void> {
  const secret = await tx
    .selectFrom('secrets')
    .select('policy')
    .where('id', '=', input.secretId)
    .executeTakeFirstOrThrow(
      () => new RotorError('ERR_STORE', `secret ${input.secretId} vanished while publishing`),
    );
  const sinks = (JSON.parse(secret.policy) as Policy).sinks ?? [];
  if (sinks.length === 0) return;
  await tx
    .insertInto('sink_deliveries')
    .values(
      sinks.map((sink, index) => ({
        secret_id: input.secretId,
        version: input.version,
        sink_index: index,
        sink: JSON.stringify(sink),
        event: input.event,
        attempts: 0,
        next_attempt_at: input.at,
        last_error: null,
        outcome: null,
        created_at: input.at,
        delivered_at: null,
      })),
    )
    .execute();
}

/** The sink outbox over the shared Kysely query layer. */
export class KyselySinkOutbox implements SinkOutbox {
  readonly #db: Db;
  readonly #write: StoreContext['write'];
  readonly #now: () => Date;

  constructor(context: StoreContext) {
    this.#db = context.db;
    this.#write = context.write;
    this.#now = context.now;
  }

  async due(now: Date, limit: number, secret?: string): Promise<SinkDeliveryRecord[]> {
    let select = this.#select(this.#db)
      .where('d.delivered_at', 'is', null)
      .where('d.next_attempt_at', '<=', now.getTime());
    if (secret !== undefined) select = select.where('s.name', '=', secret);
    const rows = await select.orderBy('d.next_attempt_at').orderBy('d.id').limit(limit).execute();
    return rows.map(toDelivery);
  }

  async claim(delivery: SinkDeliveryRecord, until: Date): Promise<boolean> {
    // Compare-and-swap on the attempt time seen: of two processes, only one moves it.
    const result = await this.#write(
      (tx) =>
        tx
          .updateTable('sink_deliveries')
          .set({ next_attempt_at: until.getTime() })
          .where('id', '=', delivery.id)
          .where('next_attempt_at', '=', delivery.nextAttemptAt.getTime())
          .where('delivered_at', 'is', null)
          .executeTakeFirst(),
      'replayable',
    );
    return Number(result.numUpdatedRows) === 1;
  }

  async finish(id: number, outcome: 'delivered' | 'obsolete', audit: AuditInput): Promise<void> {
    await this.#write(async (tx) => {
      const now = this.#now().getTime();
      const updated = await tx
        .updateTable('sink_deliveries')
        .set({ outcome, delivered_at: now })
        .where('id', '=', id)
        .where('delivered_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      if (updated) await this.#audit(tx, id, audit);
    }, 'replayable');
  }

  async fail(id: number, error: string, retryAt: Date, audit: AuditInput): Promise<void> {
    await this.#write(async (tx) => {
      const updated = await tx
        .updateTable('sink_deliveries')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          last_error: error,
          next_attempt_at: retryAt.getTime(),
        }))
        .where('id', '=', id)
        .where('delivered_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      if (updated)
        await this.#audit(tx, id, {
          ...audit,
          outcome: 'failure',
          details: { error, retryAt: retryAt.toISOString(), ...audit.details },
        });
    }, 'replayable');
  }

  async list(secret: string, limit = 100): Promise<SinkDeliveryRecord[]> {
    const rows = await this.#select(this.#db)
      .where('s.name', '=', secret)
      .orderBy('d.id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toDelivery);
  }

  async prune(before: Date, limit: number): Promise<number> {
    const result = await this.#write(
      (tx) =>
        tx
          .deleteFrom('sink_deliveries')
          .where(
            'id',
            'in',
            tx
              .selectFrom('sink_deliveries')
              .select('id')
              .where('delivered_at', 'is not', null)
              .where('delivered_at', '<', before.getTime())
              .limit(limit),
          )
          .executeTakeFirst(),
      'replayable',
    );
    return Number(result.numDeletedRows);
  }

  #select(db: Db) {
    return db
      .selectFrom('sink_deliveries as d')
      .innerJoin('secrets as s', 's.id', 'd.secret_id')
      .leftJoin('versions as v', (join) =>
        join.onRef('v.secret_id', '=', 'd.secret_id').onRef('v.number', '=', 'd.version'),
      )
      .selectAll('d')
      .select(['s.name as secret_name', 'v.stage as stage']);
  }

  async #audit(tx: Db, id: number, audit: AuditInput): Promise<void> {
    const row = await this.#select(tx).where('d.id', '=', id).executeTakeFirstOrThrow();
    const delivery = toDelivery(row);
    await appendAuditEvent(
      tx,
      {
        ...audit,
        details: {
          sink: delivery.sinkIndex,
          type: delivery.sink.type,
          event: delivery.event,
          ...audit.details,
        },
      },
      delivery.secretName,
      delivery.version,
      this.#now(),
    );
  }
}

function toDelivery(
  row: Selectable<SinkDeliveriesTable> & { secret_name: string; stage: string | null },
): SinkDeliveryRecord {
  return {
    id: Number(row.id),
    secretName: row.secret_name,
    version: Number(row.version),
    sinkIndex: Number(row.sink_index),
    sink: JSON.parse(row.sink) as Sink,
    event: row.event,
    attempts: Number(row.attempts),
    nextAttemptAt: new Date(Number(row.next_attempt_at)),
    lastError: row.last_error,
    outcome: row.outcome as SinkDeliveryRecord['outcome'],
    createdAt: new Date(Number(row.created_at)),
    deliveredAt: row.delivered_at === null ? null : new Date(Number(row.delivered_at)),
    isCurrent: row.stage === 'current',
  };
}
