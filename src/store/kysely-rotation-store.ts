import type { AuditInput } from '../audit/audit-event.js';
import { RotorError } from '../core/errors.js';
import type { Lease, RotationRecord } from '../core/rotation.js';
import type { RotationState } from '../core/rotation-state.js';
import { appendAuditEvent } from './audit-append.js';
import type { Db, StoreContext } from './kysely-db.js';
import { enqueueSinkDeliveries, KyselySinkOutbox } from './kysely-sink-outbox.js';
import { rotationInFlight, rotationInProgress } from './rotation-in-flight.js';
import type {
  BeginRotation,
  DueCheck,
  DueSecret,
  PromotePlan,
  RollbackOutcome,
  RotationStore,
} from './rotation-store.js';
import { toRotation, toSealed, toVersion } from './row-mappers.js';
import type { SinkOutbox } from './sink-outbox.js';
import type { SealedVersion, Sealer } from './store.js';
import { demoteCurrent, destroyBeyond, discardVersion, insertVersion } from './version-writes.js';

/** The rotation protocol's persistence over the shared Kysely query layer. */
export class KyselyRotationStore implements RotationStore {
  readonly outbox: SinkOutbox;
  readonly #db: Db;
  readonly #write: StoreContext['write'];
  readonly #now: () => Date;

  constructor(context: StoreContext) {
    this.#db = context.db;
    this.#write = context.write;
    this.#now = context.now;
    this.outbox = new KyselySinkOutbox(context);
  }

  async begin(input: BeginRotation, audit: AuditInput): Promise<RotationRecord | undefined> {
    return this.#write(async (tx) => {
      const now = this.#now().getTime();
      // A no-op update locks the secret's row, serialising begin against promote in PostgreSQL.
      const secret = await tx
        .updateTable('secrets')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('name', '=', input.secret)
        .returning(['id', 'next_rotation_at', 'failure_count'])
        .executeTakeFirst();
      if (!secret)
        throw new RotorError('ERR_SECRET_NOT_FOUND', `secret ${input.secret} does not exist`);
      const secretId = Number(secret.id);
      const previous = await stagedVersion(tx, secretId, 'previous');
      if (input.onlyIfDue) {
        const due =
          input.kind === 'retire'
            ? previous !== undefined &&
              previous.grace_until !== null &&
              Number(previous.grace_until) <= now
            : secret.next_rotation_at !== null && Number(secret.next_rotation_at) <= now;
        if (!due) return undefined;
      }
      if ((input.kind === 'rollback' || input.kind === 'retire') && !previous) {
        if (input.onlyIfDue) return undefined;
        throw new RotorError(
          'ERR_NO_PREVIOUS',
          `secret ${input.secret} has no previous version (its grace period is over)`,
        );
      }
      const inFlight = await rotationInFlight(tx, secretId);
      if (inFlight) {
        if (input.onlyIfDue) return undefined;
        throw rotationInProgress(input.secret, inFlight);
      }
      const current = await stagedVersion(tx, secretId, 'current');
      const row = await tx
        .insertInto('rotations')
        .values({
          secret_id: secretId,
          kind: input.kind,
          state: 'created',
          from_version: Number(current?.number ?? 0),
          to_version: input.kind === 'retire' ? Number(previous?.number) : null,
          lease_owner: input.lease.owner,
          lease_until: now + input.lease.ttlMs,
          attempt: Number(secret.failure_count) + 1,
          error: null,
          dry_run: input.dryRun ? 1 : 0,
          created_at: now,
          updated_at: now,
          finished_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const rotation = toRotation({ ...row, secret_name: input.secret });
      await this.#audit(tx, audit, rotation, rotation.fromVersion, {
        kind: input.kind,
        dryRun: input.dryRun,
        attempt: rotation.attempt,
      });
      return rotation;
    }, 'replayable');
  }

  async claim(
    id: number,
    lease: Lease,
    isDead: (owner: string) => boolean,
  ): Promise<RotationRecord | undefined> {
    return this.#write(async (tx) => {
      const now = this.#now().getTime();
      const row = await this.#select(tx)
        .where('rotations.id', '=', id)
        .where('finished_at', 'is', null)
        .executeTakeFirst();
      if (!row) return undefined;
      const holder = row.lease_owner;
      // A released rotation keeps lease_until as its retry time: nobody takes it before then.
      const expired = row.lease_until === null || Number(row.lease_until) < now;
      const free = expired || holder === lease.owner || (holder !== null && isDead(holder));
      if (!free) return undefined;
      // Compare-and-swap on the holder: of two claimers, only one sees its update match.
      let update = tx
        .updateTable('rotations')
        .set({ lease_owner: lease.owner, lease_until: now + lease.ttlMs, updated_at: now })
        .where('id', '=', id)
        .where('finished_at', 'is', null);
      update =
        holder === null
          ? update.where('lease_owner', 'is', null)
          : update.where('lease_owner', '=', holder);
      const claimed = await update.returningAll().executeTakeFirst();
      return claimed ? toRotation({ ...claimed, secret_name: row.secret_name }) : undefined;
    }, 'replayable');
  }

  async renew(id: number, lease: Lease): Promise<boolean> {
    const now = this.#now().getTime();
    const result = await this.#db
      .updateTable('rotations')
      .set({ lease_until: now + lease.ttlMs })
      .where('id', '=', id)
      .where('lease_owner', '=', lease.owner)
      .where('finished_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async takeOverForCancel(
    secret: string,
    lease: Lease,
    reason: string,
    audit: AuditInput,
  ): Promise<RotationRecord | undefined> {
    return this.#write(async (tx) => {
      const now = this.#now().getTime();
      const row = await this.#select(tx)
        .where('secrets.name', '=', secret)
        .where('finished_at', 'is', null)
        .executeTakeFirst();
      if (!row || row.kind === 'retire') return undefined;
      const state = ['created', 'pending_stored', 'applied', 'verified'].includes(row.state)
        ? 'rolling_back'
        : row.state;
      if (state !== 'rolling_back') return undefined;
      const updated = await tx
        .updateTable('rotations')
        .set({
          state,
          error: reason,
          lease_owner: lease.owner,
          lease_until: now + lease.ttlMs,
          updated_at: now,
        })
        .where('id', '=', row.id)
        .where('state', '=', row.state)
        .returningAll()
        .executeTakeFirst();
      if (!updated) return undefined;
      const rotation = toRotation({ ...updated, secret_name: secret });
      await this.#audit(tx, audit, rotation, rotation.toVersion, { from: row.state });
      return rotation;
    }, 'replayable');
  }

  async storePending(
    id: number,
    lease: Lease,
    seal: Sealer | undefined,
    audit: AuditInput,
    retiredEarly?: number,
  ): Promise<RotationRecord> {
    return this.#write(async (tx) => {
      const now = this.#now().getTime();
      const held = await this.#fence(tx, id, lease, 'created');
      let number: number;
      if (held.kind === 'rotate') {
        if (!seal) throw new TypeError('storePending: a rotate rotation needs a sealer');
        if (retiredEarly !== undefined) {
          await tx
            .updateTable('versions')
            .set({ stage: null, grace_until: null })
            .where('secret_id', '=', held.secret_id)
            .where('number', '=', retiredEarly)
            .where('stage', '=', 'previous')
            .execute();
        }
        const secret = await tx
          .updateTable('secrets')
          .set((eb) => ({ last_version: eb('last_version', '+', 1) }))
          .where('id', '=', held.secret_id)
          .returning('last_version')
          .executeTakeFirstOrThrow();
        number = Number(secret.last_version);
        await insertVersion(tx, held.secret_id, held.secret_name, number, 'pending', seal, now);
      } else {
        const restaged = await tx
          .updateTable('versions')
          .set({ stage: 'pending', grace_until: null })
          .where('secret_id', '=', held.secret_id)
          .where('stage', '=', 'previous')
          .returning('number')
          .executeTakeFirst();
        if (!restaged)
          throw new RotorError(
            'ERR_NO_PREVIOUS',
            `secret ${held.secret_name} has no previous version any more`,
          );
        number = Number(restaged.number);
      }
      const row = await tx
        .updateTable('rotations')
        .set({ state: 'pending_stored', to_version: number, updated_at: now })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const rotation = toRotation({ ...row, secret_name: held.secret_name });
      await this.#audit(tx, audit, rotation, number);
      return rotation;
    });
  }

  async advance(
    id: number,
    lease: Lease,
    from: RotationState,
    to: RotationState,
    audit: AuditInput,
    error?: string,
  ): Promise<RotationRecord> {
    return this.#write(async (tx) => {
      const held = await this.#fence(tx, id, lease, from);
      const row = await tx
        .updateTable('rotations')
        .set({ state: to, error: error ?? held.error, updated_at: this.#now().getTime() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const rotation = toRotation({ ...row, secret_name: held.secret_name });
      await this.#audit(tx, audit, rotation, rotation.toVersion);
      return rotation;
    }, 'replayable');
  }

  async promote(
    id: number,
    lease: Lease,
    plan: PromotePlan,
    audit: AuditInput,
  ): Promise<RotationRecord> {
    return this.#write(async (tx) => {
      const now = this.#now().getTime();
      const held = await this.#fence(tx, id, lease, 'verified');
      const secretId = held.secret_id;
      await demoteCurrent(tx, secretId, plan.graceUntil);
      await tx
        .updateTable('versions')
        .set({ stage: 'current' })
        .where('secret_id', '=', secretId)
        .where('stage', '=', 'pending')
        .execute();
      await enqueueSinkDeliveries(tx, {
        secretId,
        version: Number(held.to_version),
        event: audit.action,
        at: now,
      });
      await tx
        .updateTable('secrets')
        .set({
          state: 'active',
          failure_count: 0,
          last_rotated_at: now,
          next_rotation_at: plan.nextRotationAt?.getTime() ?? null,
          updated_at: now,
        })
        .where('id', '=', secretId)
        .execute();
      await destroyBeyond(tx, secretId, plan.maxVersions, now);
      const rotation = await this.#finish(tx, id, held.secret_name, 'done', null);
      await this.#audit(tx, audit, rotation, rotation.toVersion, { from: rotation.fromVersion });
      return rotation;
    });
  }

  async finishRollback(
    id: number,
    lease: Lease,
    from: RotationState,
    outcome: RollbackOutcome,
    audit: AuditInput,
  ): Promise<RotationRecord> {
    return this.#write(async (tx) => {
      const now = this.#now().getTime();
      const held = await this.#fence(tx, id, lease, from);
      const pending = held.to_version === null ? undefined : Number(held.to_version);
      if (pending !== undefined && held.kind === 'rotate') {
        // A value that failed, or was only tried, is never used again: the next attempt generates a fresh one.
        await discardVersion(tx, held.secret_id, pending, now);
      } else if (pending !== undefined) {
        await tx
          .updateTable('versions')
          .set({ stage: 'previous' })
          .where('secret_id', '=', held.secret_id)
          .where('number', '=', pending)
          .where('stage', '=', 'pending')
          .execute();
      }
      if (outcome.failed) {
        await tx
          .updateTable('secrets')
          .set((eb) => ({
            failure_count: eb('failure_count', '+', 1),
            state: outcome.needsAttention ? 'needs-attention' : 'active',
            next_rotation_at: outcome.nextRotationAt?.getTime() ?? null,
            updated_at: now,
          }))
          .where('id', '=', held.secret_id)
          .execute();
      }
      const rotation = await this.#finish(tx, id, held.secret_name, 'rolled_back', held.error);
      await this.#audit(
        tx,
        { ...audit, outcome: outcome.failed ? 'failure' : 'success' },
        rotation,
        pending ?? null,
        {
          error: held.error,
          needsAttention: outcome.needsAttention,
        },
      );
      return rotation;
    }, 'replayable');
  }

  async finishRetire(
    id: number,
    lease: Lease,
    maxVersions: number,
    audit: AuditInput,
  ): Promise<RotationRecord> {
    return this.#write(async (tx) => {
      const now = this.#now().getTime();
      const held = await this.#fence(tx, id, lease, 'created');
      await tx
        .updateTable('versions')
        .set({ stage: null, grace_until: null })
        .where('secret_id', '=', held.secret_id)
        .where('number', '=', Number(held.to_version))
        .where('stage', '=', 'previous')
        .execute();
      await destroyBeyond(tx, held.secret_id, maxVersions, now);
      const rotation = await this.#finish(tx, id, held.secret_name, 'done', null);
      await this.#audit(tx, audit, rotation, rotation.toVersion);
      return rotation;
    }, 'replayable');
  }

  async release(
    id: number,
    lease: Lease,
    error: string,
    retryAt: Date,
    park: boolean,
    audit: AuditInput,
  ): Promise<void> {
    await this.#write(async (tx) => {
      const held = await this.#fence(tx, id, lease, undefined);
      await tx
        .updateTable('secrets')
        .set((eb) => ({
          failure_count: eb('failure_count', '+', 1),
          ...(park ? { state: 'needs-attention', next_rotation_at: null } : {}),
          updated_at: this.#now().getTime(),
        }))
        .where('id', '=', held.secret_id)
        .execute();
      const row = await tx
        .updateTable('rotations')
        .set((eb) => ({
          error,
          attempt: eb('attempt', '+', 1),
          lease_owner: null,
          // Nobody claims it again before the backoff has passed.
          lease_until: retryAt.getTime(),
          updated_at: this.#now().getTime(),
        }))
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const rotation = toRotation({ ...row, secret_name: held.secret_name });
      await this.#audit(tx, { ...audit, outcome: 'failure' }, rotation, rotation.toVersion, {
        error,
        retryAt: retryAt.toISOString(),
        needsAttention: park,
      });
    }, 'replayable');
  }

  async get(id: number): Promise<RotationRecord | undefined> {
    const row = await this.#select(this.#db).where('rotations.id', '=', id).executeTakeFirst();
    return row ? toRotation(row) : undefined;
  }

  async list(query: { secret?: string; limit?: number }): Promise<RotationRecord[]> {
    let select = this.#select(this.#db)
      .orderBy('rotations.id', 'desc')
      .limit(query.limit ?? 100);
    if (query.secret !== undefined) select = select.where('secrets.name', '=', query.secret);
    return (await select.execute()).map(toRotation);
  }

  async inFlight(secret: string): Promise<RotationRecord | undefined> {
    const row = await this.#select(this.#db)
      .where('secrets.name', '=', secret)
      .where('finished_at', 'is', null)
      .executeTakeFirst();
    return row ? toRotation(row) : undefined;
  }

  async unfinished(): Promise<RotationRecord[]> {
    const rows = await this.#select(this.#db)
      .where('finished_at', 'is', null)
      .orderBy('rotations.id')
      .execute();
    return rows.map(toRotation);
  }

  async dueSecrets(now: Date, limit: number, after?: DueSecret): Promise<DueSecret[]> {
    let select = this.#db
      .selectFrom('secrets')
      .select(['name', 'next_rotation_at'])
      .where('next_rotation_at', 'is not', null)
      .where('next_rotation_at', '<=', now.getTime());
    if (after) {
      const at = after.nextRotationAt.getTime();
      select = select.where((eb) =>
        eb.or([
          eb('next_rotation_at', '>', at),
          eb.and([eb('next_rotation_at', '=', at), eb('name', '>', after.name)]),
        ]),
      );
    }
    const rows = await select.orderBy('next_rotation_at').orderBy('name').limit(limit).execute();
    return rows.map((r) => ({
      name: r.name,
      nextRotationAt: new Date(Number(r.next_rotation_at)),
    }));
  }

  async dueChecks(now: Date, limit: number): Promise<DueCheck[]> {
    const rows = await this.#db
      .selectFrom('secrets')
      .select(['name', 'next_check_at'])
      .where('next_check_at', 'is not', null)
      .where('next_check_at', '<=', now.getTime())
      .orderBy('next_check_at')
      .orderBy('name')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ name: r.name, nextCheckAt: new Date(Number(r.next_check_at)) }));
  }

  async rescheduleCheck(due: DueCheck, next: Date | null): Promise<boolean> {
    const result = await this.#db
      .updateTable('secrets')
      .set({ next_check_at: next?.getTime() ?? null })
      .where('name', '=', due.name)
      .where('next_check_at', '=', due.nextCheckAt.getTime())
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async expiredGraces(now: Date, limit: number): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('versions')
      .innerJoin('secrets', 'secrets.id', 'versions.secret_id')
      .select('secrets.name')
      .where('versions.grace_until', 'is not', null)
      .where('versions.grace_until', '<=', now.getTime())
      .where('versions.stage', '=', 'previous')
      .orderBy('versions.grace_until')
      .limit(limit)
      .execute();
    return rows.map((r) => r.name);
  }

  async defer(due: DueSecret, until: Date | null, audit: AuditInput): Promise<boolean> {
    return this.#write(async (tx) => {
      // Only if still due as seen: another process may have rotated or rescheduled it meanwhile.
      const row = await tx
        .updateTable('secrets')
        .set({ next_rotation_at: until?.getTime() ?? null, updated_at: this.#now().getTime() })
        .where('name', '=', due.name)
        .where('next_rotation_at', '=', due.nextRotationAt.getTime())
        .returning('id')
        .executeTakeFirst();
      if (!row) return false;
      await appendAuditEvent(tx, audit, due.name, null, this.#now());
      return true;
    }, 'replayable');
  }

  async sealedVersion(secret: string, version: number): Promise<SealedVersion> {
    const row = await this.#db
      .selectFrom('versions')
      .innerJoin('secrets', 'secrets.id', 'versions.secret_id')
      .selectAll('versions')
      .where('secrets.name', '=', secret)
      .where('versions.number', '=', version)
      .executeTakeFirst();
    const sealed = row ? toSealed(row) : undefined;
    if (!row || !sealed) {
      throw new RotorError(
        'ERR_VERSION_DESTROYED',
        `version ${version} of ${secret} has no value any more`,
      );
    }
    return { version: toVersion(row), sealed };
  }

  #select(db: Db) {
    return db
      .selectFrom('rotations')
      .innerJoin('secrets', 'secrets.id', 'rotations.secret_id')
      .selectAll('rotations')
      .select('secrets.name as secret_name');
  }

  /**
   * Renews the lease and locks the row, but only while this process still
   * holds the rotation in the state it expects; otherwise ERR_LEASE_LOST.
   */
  async #fence(tx: Db, id: number, lease: Lease, state: RotationState | undefined) {
    const now = this.#now().getTime();
    let update = tx
      .updateTable('rotations')
      .set({ lease_until: now + lease.ttlMs, updated_at: now })
      .where('id', '=', id)
      .where('lease_owner', '=', lease.owner)
      .where('finished_at', 'is', null);
    if (state !== undefined) update = update.where('state', '=', state);
    const row = await update.returningAll().executeTakeFirst();
    if (!row) {
      throw new RotorError(
        'ERR_LEASE_LOST',
        `rotation ${id} is no longer held by this process${state ? ` in state ${state}` : ''}; another process took it over or it was cancelled`,
      );
    }
    const secret = await tx
      .selectFrom('secrets')
      .select('name')
      .where('id', '=', row.secret_id)
      .executeTakeFirstOrThrow();
    return { ...row, secret_id: Number(row.secret_id), secret_name: secret.name };
  }

  async #finish(
    tx: Db,
    id: number,
    secretName: string,
    state: RotationState,
    error: string | null,
  ): Promise<RotationRecord> {
    const now = this.#now().getTime();
    const row = await tx
      .updateTable('rotations')
      .set({
        state,
        error,
        finished_at: now,
        lease_owner: null,
        lease_until: null,
        updated_at: now,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRotation({ ...row, secret_name: secretName });
  }

  #audit(
    tx: Db,
    input: AuditInput,
    rotation: RotationRecord,
    version: number | null,
    details?: Record<string, unknown>,
  ): Promise<void> {
    return appendAuditEvent(
      tx,
      { ...input, details: { rotation: rotation.id, ...details, ...input.details } },
      rotation.secretName,
      version,
      this.#now(),
    );
  }
}

async function stagedVersion(tx: Db, secretId: number, stage: 'current' | 'previous') {
  return tx
    .selectFrom('versions')
    .select(['number', 'grace_until'])
    .where('secret_id', '=', secretId)
    .where('stage', '=', stage)
    .executeTakeFirst();
}
