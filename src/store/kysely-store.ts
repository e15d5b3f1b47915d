import type { Kysely, Selectable } from 'kysely';
import { type AuditInput, auditEventHash, canonicalDetails } from '../audit/audit-event.js';
import { RotorError } from '../core/errors.js';
import type { Policy } from '../core/policy.js';
import type {
  SecretRecord,
  SecretState,
  SecretSummary,
  Stage,
  VersionRecord,
  VersionState,
} from '../core/secret.js';
import type { Database, SecretsTable, VersionsTable } from './schema.js';
import type {
  NewSecret,
  NewToken,
  PutOptions,
  SealedVersion,
  Sealer,
  Store,
  StoreDialect,
  VersionSelector,
} from './store.js';

export type Db = Kysely<Database>;

/** Runs `work` in one write transaction; each dialect knows how to serialise writers. */
export type WriteTransaction = <T>(work: (tx: Db) => Promise<T>) => Promise<T>;

export interface KyselyStoreOptions {
  readonly db: Db;
  readonly dialect: StoreDialect;
  readonly location: string;
  readonly write: WriteTransaction;
  readonly now?: () => Date;
  readonly onClose?: () => Promise<void>;
}

/** The one query layer behind both the SQLite and the PostgreSQL store. */
export class KyselyStore implements Store {
  readonly dialect: StoreDialect;
  readonly location: string;
  readonly #db: Db;
  readonly #write: WriteTransaction;
  readonly #now: () => Date;
  readonly #onClose: (() => Promise<void>) | undefined;

  constructor(options: KyselyStoreOptions) {
    this.dialect = options.dialect;
    this.location = options.location;
    this.#db = options.db;
    this.#write = options.write;
    this.#now = options.now ?? (() => new Date());
    this.#onClose = options.onClose;
  }

  async isInitialised(): Promise<boolean> {
    return (await this.masterKeyChecks()).length > 0;
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
      await this.#insertVersion(tx, Number(inserted.id), secret.name, 1, 'current', seal, now);
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
      .selectAll('secrets')
      .select('versions.number as current_version')
      .orderBy('secrets.name');
    if (prefix)
      query = query
        .where('secrets.name', '>=', prefix)
        .where('secrets.name', '<', `${prefix}\uffff`);
    const rows = await query.execute();
    return rows.map((r) => ({ ...toSecret(r), currentVersion: Number(r.current_version) }));
  }

  async deleteSecret(name: string, audit: AuditInput): Promise<void> {
    await this.#write(async (tx) => {
      const deleted = await tx
        .deleteFrom('secrets')
        .where('name', '=', name)
        .returning('last_version')
        .executeTakeFirst();
      if (!deleted) throw notFound(name);
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
      if (!secret) throw notFound(name);
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
      // Order matters: the unique (secret, stage) index is checked per statement.
      await tx
        .updateTable('versions')
        .set({ stage: null, grace_until: null })
        .where('secret_id', '=', secretId)
        .where('stage', '=', 'previous')
        .execute();
      await tx
        .updateTable('versions')
        .set({ stage: 'previous', grace_until: options.graceUntil.getTime() })
        .where('secret_id', '=', secretId)
        .where('stage', '=', 'current')
        .execute();
      const number = Number(secret.last_version);
      const version = await this.#insertVersion(tx, secretId, name, number, 'current', seal, now);
      await this.#destroyBeyond(tx, secretId, options.maxVersions, now);
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

  async readVersion(
    name: string,
    selector: VersionSelector,
    audit: AuditInput,
  ): Promise<SealedVersion> {
    return this.#write(async (tx) => {
      const secretId = await this.#requireSecretId(tx, name);
      let query = tx.selectFrom('versions').selectAll().where('secret_id', '=', secretId);
      query =
        'stage' in selector
          ? query.where('stage', '=', selector.stage)
          : query.where('number', '=', selector.version);
      const row = await query.executeTakeFirst();
      const which =
        'stage' in selector ? `no ${selector.stage} version` : `no version ${selector.version}`;
      if (!row) throw new RotorError('ERR_VERSION_NOT_FOUND', `secret ${name} has ${which}`);
      if (row.ciphertext === null || row.wrapped_key === null || row.master_key_version === null) {
        throw new RotorError(
          'ERR_VERSION_DESTROYED',
          `version ${row.number} of ${name} was destroyed; only its metadata remains`,
        );
      }
      await this.#audit(tx, audit, name, Number(row.number));
      return {
        version: toVersion(row),
        sealed: {
          ciphertext: Buffer.from(row.ciphertext),
          wrappedKey: Buffer.from(row.wrapped_key),
          masterKeyVersion: Number(row.master_key_version),
        },
      };
    });
  }

  async close(): Promise<void> {
    await this.#db.destroy();
    await this.#onClose?.();
  }

  async #requireSecretId(db: Db, name: string): Promise<number> {
    const row = await db
      .selectFrom('secrets')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(name);
    return Number(row.id);
  }

  async #insertVersion(
    tx: Db,
    secretId: number,
    name: string,
    number: number,
    stage: Stage,
    seal: Sealer,
    now: number,
  ): Promise<VersionRecord> {
    const sealed = seal(number);
    const row = await tx
      .insertInto('versions')
      .values({
        secret_id: secretId,
        number,
        stage,
        state: 'active',
        ciphertext: sealed.ciphertext,
        wrapped_key: sealed.wrappedKey,
        master_key_version: sealed.masterKeyVersion,
        created_at: now,
        grace_until: null,
        destroyed_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow(
        () => new RotorError('ERR_STORE', `could not store version ${number} of ${name}`),
      );
    return toVersion(row);
  }

  /** Destroys the values of deprecated versions beyond the newest `keep`; metadata stays. */
  async #destroyBeyond(tx: Db, secretId: number, keep: number, now: number): Promise<void> {
    await tx
      .updateTable('versions')
      .set({
        state: 'destroyed',
        ciphertext: null,
        wrapped_key: null,
        master_key_version: null,
        destroyed_at: now,
      })
      .where('secret_id', '=', secretId)
      .where('stage', 'is', null)
      .where('state', '=', 'active')
      .where('number', 'not in', (eb) =>
        eb
          .selectFrom('versions')
          .select('number')
          .where('secret_id', '=', secretId)
          .orderBy('number', 'desc')
          .limit(keep),
      )
      .execute();
  }

  /** Appends one event to the hash chain inside the caller's transaction. */
  async #audit(
    tx: Db,
    input: AuditInput,
    secret: string | null,
    version: number | null,
  ): Promise<void> {
    // Bumping the head row first locks it, so concurrent transactions append one after another.
    const head = await tx
      .updateTable('audit_head')
      .set((eb) => ({ seq: eb('seq', '+', 1) }))
      .where('id', '=', 1)
      .returning(['seq', 'hash'])
      .executeTakeFirstOrThrow(
        () => new RotorError('ERR_STORE', 'the audit chain head is missing'),
      );
    const event = {
      seq: Number(head.seq),
      at: this.#now().getTime(),
      actor: input.actor,
      action: input.action,
      secret,
      version,
      outcome: input.outcome ?? 'success',
      details: canonicalDetails(input.details),
      prevHash: head.hash,
    };
    const hash = auditEventHash(event);
    await tx
      .insertInto('audit_events')
      .values({
        seq: event.seq,
        at: event.at,
        actor: event.actor,
        action: event.action,
        secret,
        version,
        outcome: event.outcome,
        details: event.details,
        prev_hash: event.prevHash,
        hash,
      })
      .execute();
    await tx.updateTable('audit_head').set({ hash }).where('id', '=', 1).execute();
  }
}

function notFound(name: string): RotorError {
  return new RotorError('ERR_SECRET_NOT_FOUND', `secret ${name} does not exist`);
}

function toSecret(row: Selectable<SecretsTable>): SecretRecord {
  return {
    name: row.name,
    type: row.type,
    config: JSON.parse(row.config) as Record<string, unknown>,
    policy: JSON.parse(row.policy) as Policy,
    state: row.state as SecretState,
    lastVersion: Number(row.last_version),
    nextRotationAt: toDate(row.next_rotation_at),
    lastRotatedAt: toDate(row.last_rotated_at),
    failureCount: Number(row.failure_count),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}

function toVersion(row: Selectable<VersionsTable>): VersionRecord {
  return {
    number: Number(row.number),
    stage: row.stage as Stage | null,
    state: row.state as VersionState,
    createdAt: new Date(Number(row.created_at)),
    graceUntil: toDate(row.grace_until),
  };
}

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(Number(ms));
}
