import type { AuditEvent, AuditInput } from '../audit/audit-event.js';
import type { Policy } from '../core/policy.js';
import type { RotationRecord } from '../core/rotation.js';
import type { SecretRecord, SecretSummary, Stage, VersionRecord } from '../core/secret.js';
import type { SealedValue } from '../crypto/envelope.js';
import type { RotationStore } from './rotation-store.js';
import type { TokenStore } from './token-store.js';

export type StoreDialect = 'sqlite' | 'postgres';

/** Encrypts the new value once the store has assigned its version number (bound into the ciphertext). */
export type Sealer = (versionNumber: number) => SealedValue;

export interface NewSecret {
  readonly name: string;
  readonly type: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly policy: Policy;
  readonly nextRotationAt: Date | null;
}

export interface NewToken {
  readonly id: string;
  readonly hash: string;
  readonly name: string;
  readonly policy: readonly unknown[];
  readonly expiresAt: Date | null;
}

export type VersionSelector = { readonly stage: Stage } | { readonly version: number };

export interface SealedVersion {
  readonly version: VersionRecord;
  readonly sealed: SealedValue;
}

/** How a new user-supplied version replaces `current`. */
export interface PutOptions {
  /** When the demoted `current` (now `previous`) stops being valid. */
  readonly graceUntil: Date;
  /** Versions beyond this count lose their value. */
  readonly maxVersions: number;
}

export interface SecretUpdate {
  readonly config: Readonly<Record<string, unknown>>;
  readonly policy: Policy;
  readonly nextRotationAt: Date | null;
}

export interface RotationQuery {
  readonly secret?: string | undefined;
  readonly state?: string | undefined;
  /** Only rotations with a smaller id (the next page, newest first). */
  readonly beforeId?: number | undefined;
  readonly limit: number;
}

export interface AuditQuery {
  readonly secret?: string | undefined;
  /** Only events with a larger sequence number. */
  readonly afterSeq?: number | undefined;
  /** Only events up to this sequence number (a consistent prefix, read with the head). */
  readonly upToSeq?: number | undefined;
  /** The newest `last` events (oldest first). */
  readonly last?: number | undefined;
  /** Only events with one of these actions. */
  readonly actions?: readonly string[] | undefined;
  /** At most this many events from `afterSeq` on (oldest first). */
  readonly limit?: number | undefined;
}

/**
 * Persistence for Rotor. Every mutating method is one transaction that also
 * appends its audit event, so neither a change nor its record can exist alone.
 */
export interface Store {
  readonly dialect: StoreDialect;
  /** Where the store lives, without credentials. */
  readonly location: string;
  readonly rotations: RotationStore;
  readonly tokens: TokenStore;

  isInitialised(): Promise<boolean>;
  /** Migrations this build knows that the store has not applied (empty when up to date). */
  pendingMigrations(): Promise<string[]>;
  masterKeyChecks(): Promise<ReadonlyArray<{ version: number; keyCheck: string }>>;
  initialise(input: {
    masterKeyCheck: string;
    adminToken: NewToken;
    audit: AuditInput;
  }): Promise<void>;

  createSecret(secret: NewSecret, seal: Sealer, audit: AuditInput): Promise<SecretRecord>;
  getSecret(name: string): Promise<SecretRecord | undefined>;
  listSecrets(prefix?: string): Promise<SecretSummary[]>;
  updateSecret(name: string, update: SecretUpdate, audit: AuditInput): Promise<SecretRecord>;
  /** Clears failures and needs-attention, and makes the secret due at `nextRotationAt`. */
  resumeSecret(name: string, nextRotationAt: Date, audit: AuditInput): Promise<SecretRecord>;
  deleteSecret(name: string, audit: AuditInput): Promise<void>;

  putVersion(
    name: string,
    seal: Sealer,
    options: PutOptions,
    audit: AuditInput,
  ): Promise<VersionRecord>;
  listVersions(name: string): Promise<VersionRecord[]>;
  /** `current`, and `previous` while its grace lasts: the values valid now. Not audited; the caller records what it did with them. */
  validVersions(name: string): Promise<SealedVersion[]>;
  /** Reads a sealed value and records the read in the audit trail. */
  readVersion(name: string, selector: VersionSelector, audit: AuditInput): Promise<SealedVersion>;

  /** Rotations, newest first. */
  listRotations(query: RotationQuery): Promise<RotationRecord[]>;

  /** Appends an event that records no change of its own (an API request, a refused one). */
  recordAudit(audit: AuditInput, secret: string | null): Promise<void>;
  auditEvents(query: AuditQuery): Promise<AuditEvent[]>;
  /** The sequence number and hash of the newest event, kept apart so that deleting the tail shows. */
  auditHead(): Promise<{ seq: number; hash: string }>;

  close(): Promise<void>;
}
