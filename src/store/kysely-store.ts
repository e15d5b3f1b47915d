import { type Kysely, sql } from 'kysely';
import type { AuditEvent, AuditInput } from '../audit/audit-event.js';
import { RotorError } from '../core/errors.js';
import type { RotationRecord } from '../core/rotation.js';
import type { SecretRecord, SecretSummary, VersionRecord } from '../core/secret.js';
import { appendAuditEvent, appendAuditEvents } from './audit-append.js';
import type { RunAuditBatch } from './audit-batch.js';
import { AuditGroupCommit } from './audit-group-commit.js';
import type { Db, StoreContext, WriteTransaction } from './kysely-db.js';
import { KyselyRotationStore } from './kysely-rotation-store.js';
import { enqueueSinkDeliveries } from './kysely-sink-outbox.js';
import { KyselyTokenStore } from './kysely-token-store.js';
import { pendingMigrations } from './migrate.js';
import { rotationInFlight, rotationInProgress } from './rotation-in-flight.js';
import type { RotationStore } from './rotation-store.js';
import { toAuditEvent, toDate, toRotation, toSealed, toSecret, toVersion } from './row-mappers.js';
import type {
  AuditQuery,
  NewSecret,
  NewToken,
  PutOptions,
  RotationQuery,
  SealedVersion,
  Sealer,
  SecretUpdate,
  Store,
  StoreDialect,
  VersionSelector,
} from './store.js';
import type { TokenStore } from './token-store.js';
import { missingSecret, missingVersion, sealedVersionOf } from './version-reads.js';
import { demoteCurrent, destroyBeyond, insertVersion } from './version-writes.js';

export interface KyselyStoreOptions {
  readonly db: Db;
  readonly dialect: StoreDialect;
  readonly location: string;
  readonly write: WriteTransaction;
  /** How audit group commits run (durable once it resolves); in a durable `write` when absent. */
  readonly auditBatch?: RunAuditBatch | undefined;
  readonly now?: (() => Date) | undefined;
}

/** The one query layer behind both the SQLite and the PostgreSQL store. */
export class KyselyStore implements Store {
  readonly dialect: StoreDialect;
  readonly location: string;
  readonly rotations: RotationStore;
  readonly tokens: TokenStore;
  readonly #db: Db;
  readonly #write: WriteTransaction;
  readonly #now: () => Date;
  /** Reads and API requests are audited in shared transactions: one commit for many callers. */
  readonly #groupCommit: AuditGroupCommit;

  constructor(options: KyselyStoreOptions) {
    this.dialect = options.dialect;
    this.location = options.location;
    this.#db = options.db;
    this.#write = options.write;
    this.#now = options.now ?? (() => new Date());
    this.#groupCommit = new AuditGroupCommit(
      options.auditBatch ??
        ((work) =>
          this.#write((tx) =>
            work({
              readVersion: (name, selector) => this.#sealedVersion(tx, name, selector),
              appendEvents: (entries, now) => appendAuditEvents(tx, entries, now),
            }),
          )),
      this.#now,
    );
    const context: StoreContext = { db: this.#db, write: this.#write, now: this.#now };
    this.rotations = new KyselyRotationStore(context);
    this.tokens = new KyselyTokenStore(context);
  }

  async isInitialised(): Promise<boolean> {
    return (await this.masterKeyChecks()).length > 0;
  }

  pendingMigrations(): Promise<string[]> {
    return pendingMigrations(this.#db as unknown as Kysely<unknown>, this.dialect);
  }

  async masterKeyChecks(): Promise<Array<{ version: number; keyCheck: string }>> {
    const rows = await this.#db
      .selectFrom('master_keys')
      .select(['version', 'key_check'])
      .execute();
    return rows.map((r) => ({ version: Number(r.version), keyCheck: r.key_check }));
  }

  async initialise(input: {
    masterKeyCheck: string;
    adminToken: NewToken;
    audit: AuditInput;
  }): Promise<void> {
    await this.#write(async (tx) => {
      const existing = await tx.selectFrom('master_keys').select('version').executeTakeFirst();
      if (existing)
        throw new RotorError(
          'ERR_ALREADY_INITIALISED',
          `the store at ${this.location} is already initialised`,
        );
      const now = this.#now().getTime();
      await tx
        .insertInto('master_keys')
        .values({ version: 1, key_check: input.masterKeyCheck, created_at: now })
        .execute();
      await tx
        .insertInto('tokens')
        .values({
          id: input.adminToken.id,
          hash: input.adminToken.hash,
          name: input.adminToken.name,
          policy: JSON.stringify(input.adminToken.policy),
          created_at: now,
          expires_at: input.adminToken.expiresAt?.getTime() ?? null,
          revoked_at: null,
        })
        .execute();
      await this.#audit(tx, input.audit, null, null);
    });
  }

  async createSecret(secret: NewSecret, seal: Sealer, audit: AuditInput): Promise<SecretRecord> {
    return this.#write(async (tx) => {
      const now = this.#now().getTime();
      const inserted = await tx
        .insertInto('secrets')
        .values({
          name: secret.name,
          type: secret.type,
          config: JSON.stringify(secret.config),
          policy: JSON.stringify(secret.policy),
          state: 'active',
          last_version: 1,
          next_rotation_at: secret.nextRotationAt?.getTime() ?? null,
          // Checked at the next run: a credential that does not work is best known at once.
          next_check_at: now,
          last_rotated_at: null,
          failure_count: 0,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!inserted)
        throw new RotorError('ERR_SECRET_EXISTS', `secret ${secret.name} already exists`);
      await insertVersion(tx, Number(inserted.id), secret.name, 1, 'current', seal, now);
      await enqueueSinkDeliveries(tx, {
        secretId: Number(inserted.id),
        version: 1,
        event: audit.action,
        at: now,
      });
      await this.#audit(tx, audit, secret.name, 1);
      return toSecret(inserted);
    });
  }

  async getSecret(name: string): Promise<SecretRecord | undefined> {
    const row = await this.#db
      .selectFrom('secrets')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? toSecret(row) : undefined;
  }

  async listSecrets(prefix?: string): Promise<SecretSummary[]> {
    let query = this.#db
      .selectFrom('secrets')
      .innerJoin('versions', (join) =>
        join.onRef('versions.secret_id', '=', 'secrets.id').on('versions.stage', '=', 'current'),
      )
      .leftJoin('versions as previous', (join) =>
        join.onRef('previous.secret_id', '=', 'secrets.id').on('previous.stage', '=', 'previous'),
      )
      .selectAll('secrets')
      .select(['versions.number as current_version', 'previous.grace_until as grace_until'])
      .orderBy('secrets.name');
    if (prefix) {
      query = query.where(
        sql`substr(${sql.ref('secrets.name')}, 1, ${prefix.length})`,
        '=',
        prefix,
      );
    }
    const rows = await query.execute();
    return rows.map((r) => ({
      ...toSecret(r),
      currentVersion: Number(r.current_version),
      graceUntil: toDate(r.grace_until),
    }));
  }

  async deleteSecret(name: string, audit: AuditInput): Promise<void> {
    await this.#write(async (tx) => {
      // Locked as a rotation's begin locks it: a rotation cannot start between the check and the delete.
      const secret = await tx
        .updateTable('secrets')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('name', '=', name)
        .returning('id')
        .executeTakeFirst();
      if (!secret) throw missingSecret(name);
      // Deleting would drop the rotation's row and leave its pending value applied on the target.
      const inFlight = await rotationInFlight(tx, Number(secret.id));
      if (inFlight) throw rotationInProgress(name, inFlight);
      await tx.deleteFrom('secrets').where('id', '=', secret.id).execute();
      await this.#audit(tx, audit, name, null);
    });
  }

  async putVersion(
    name: string,
    seal: Sealer,
    options: PutOptions,
    audit: AuditInput,
  ): Promise<VersionRecord> {
    return this.#write(async (tx) => {
      const now = this.#now().getTime();
      // Taking the next number first locks the secret's row, which serialises concurrent writers.
      const secret = await tx
        .updateTable('secrets')
        .set((eb) => ({ last_version: eb('last_version', '+', 1), updated_at: now }))
        .where('name', '=', name)
        .returning(['id', 'last_version'])
        .executeTakeFirst();
      if (!secret) throw missingSecret(name);
      const secretId = Number(secret.id);
      const pending = await tx
        .selectFrom('versions')
        .select('number')
        .where('secret_id', '=', secretId)
        .where('stage', '=', 'pending')
        .executeTakeFirst();
      if (pending) {
        throw new RotorError(
          'ERR_ROTATION_IN_PROGRESS',
          `secret ${name} has a rotation in flight (pending version ${pending.number}); wait for it or cancel it first`,
        );
      }
      await demoteCurrent(tx, secretId, options.graceUntil);
      const number = Number(secret.last_version);
      const version = await insertVersion(tx, secretId, name, number, 'current', seal, now);
      await enqueueSinkDeliveries(tx, { secretId, version: number, event: audit.action, at: now });
      await destroyBeyond(tx, secretId, options.maxVersions, now);
      await this.#audit(tx, audit, name, number);
      return version;
    });
  }

  async listVersions(name: string): Promise<VersionRecord[]> {
    const secret = await this.#requireSecretId(this.#db, name);
    const rows = await this.#db
      .selectFrom('versions')
      .selectAll()
      .where('secret_id', '=', secret)
      .orderBy('number', 'desc')
      .execute();
    return rows.map(toVersion);
  }

  async validVersions(name: string): Promise<SealedVersion[]> {
    const secretId = await this.#requireSecretId(this.#db, name);
    const rows = await this.#db
      .selectFrom('versions')
      .selectAll()
      .where('secret_id', '=', secretId)
      .where((eb) =>
        eb.or([
          eb('stage', '=', 'current'),
          eb.and([eb('stage', '=', 'previous'), eb('grace_until', '>', this.#now().getTime())]),
        ]),
      )
      .execute();
    return rows.flatMap((row) => {
      const sealed = toSealed(row);
      return sealed ? [{ version: toVersion(row), sealed }] : [];
    });
  }

  readVersion(name: string, selector: VersionSelector, audit: AuditInput): Promise<SealedVersion> {
    const which = 'stage' in selector ? `stage ${selector.stage}` : `version ${selector.version}`;
    return this.#groupCommit.readAndAppend(
      `${name} ${which}`,
      (tx) => tx.readVersion(name, selector),
      (read) => ({ input: audit, secret: name, version: read.version.number }),
    );
  }

  async updateSecret(name: string, update: SecretUpdate, audit: AuditInput): Promise<SecretRecord> {
    return this.#write(async (tx) => {
      const row = await tx
        .updateTable('secrets')
        .set({
          config: JSON.stringify(update.config),
          policy: JSON.stringify(update.policy),
          next_rotation_at: update.nextRotationAt?.getTime() ?? null,
          updated_at: this.#now().getTime(),
        })
        .where('name', '=', name)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw missingSecret(name);
      await this.#audit(tx, audit, name, null);
      return toSecret(row);
    });
  }

  async resumeSecret(name: string, nextRotationAt: Date, audit: AuditInput): Promise<SecretRecord> {
    return this.#write(async (tx) => {
      const row = await tx
        .updateTable('secrets')
        .set({
          state: 'active',
          failure_count: 0,
          next_rotation_at: nextRotationAt.getTime(),
          updated_at: this.#now().getTime(),
        })
        .where('name', '=', name)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw missingSecret(name);
      // A stalled rotation of this secret is retried at the next run, not after its backoff.
      await tx
        .updateTable('rotations')
        .set({ lease_until: null })
        .where('secret_id', '=', row.id)
        .where('finished_at', 'is', null)
        .where('lease_owner', 'is', null)
        .execute();
      await this.#audit(tx, audit, name, null);
      return toSecret(row);
    });
  }

  async listRotations(query: RotationQuery): Promise<RotationRecord[]> {
    let select = this.#db
      .selectFrom('rotations')
      .innerJoin('secrets', 'secrets.id', 'rotations.secret_id')
      .selectAll('rotations')
      .select('secrets.name as secret_name');
    if (query.secret !== undefined) select = select.where('secrets.name', '=', query.secret);
    if (query.state !== undefined) select = select.where('rotations.state', '=', query.state);
    if (query.beforeId !== undefined) select = select.where('rotations.id', '<', query.beforeId);
    const rows = await select.orderBy('rotations.id', 'desc').limit(query.limit).execute();
    return rows.map(toRotation);
  }

  recordAudit(audit: AuditInput, secret: string | null): Promise<void> {
    return this.#groupCommit.append({ input: audit, secret, version: null });
  }

  async auditEvents(query: AuditQuery): Promise<AuditEvent[]> {
    let select = this.#db.selectFrom('audit_events').selectAll();
    if (query.secret !== undefined) select = select.where('secret', '=', query.secret);
    if (query.afterSeq !== undefined) select = select.where('seq', '>', query.afterSeq);
    if (query.upToSeq !== undefined) select = select.where('seq', '<=', query.upToSeq);
    if (query.actions !== undefined) select = select.where('action', 'in', [...query.actions]);
    const rows =
      query.last === undefined
        ? await select
            .orderBy('seq', 'asc')
            .limit(query.limit ?? Number.MAX_SAFE_INTEGER)
            .execute()
        : (await select.orderBy('seq', 'desc').limit(query.last).execute()).reverse();
    return rows.map(toAuditEvent);
  }

  async auditHead(): Promise<{ seq: number; hash: string }> {
    const head = await this.#db
      .selectFrom('audit_head')
      .select(['seq', 'hash'])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow(
        () => new RotorError('ERR_AUDIT_BROKEN', 'the audit chain head row is missing'),
      );
    return { seq: Number(head.seq), hash: head.hash };
  }

  async close(): Promise<void> {
    await this.#groupCommit.idle();
    await this.#db.destroy();
  }

  async #sealedVersion(tx: Db, name: string, selector: VersionSelector): Promise<SealedVersion> {
    let query = tx
      .selectFrom('versions')
      .innerJoin('secrets', 'secrets.id', 'versions.secret_id')
      .selectAll('versions')
      .where('secrets.name', '=', name);
    query =
      'stage' in selector
        ? query.where('versions.stage', '=', selector.stage)
        : query.where('versions.number', '=', selector.version);
    const row = await query.executeTakeFirst();
    if (!row) {
      await this.#requireSecretId(tx, name);
      throw missingVersion(name, selector);
    }
    return sealedVersionOf(row, name);
  }

  async #requireSecretId(db: Db, name: string): Promise<number> {
    const row = await db
      .selectFrom('secrets')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw missingSecret(name);
    return Number(row.id);
  }

  #audit(tx: Db, input: AuditInput, secret: string | null, version: number | null): Promise<void> {
    return appendAuditEvent(tx, input, secret, version, this.#now());
  }
}
