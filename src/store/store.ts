import type { AuditInput } from '../audit/audit-event.js';
import type { Policy } from '../core/policy.js';
import type { SecretRecord, SecretSummary, Stage, VersionRecord } from '../core/secret.js';
import type { SealedValue } from '../crypto/envelope.js';

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

/**
 * Persistence for Rotor. Every mutating method is one transaction that also
 * appends its audit event, so neither a change nor its record can exist alone.
 */
export interface Store {
  readonly dialect: StoreDialect;
  /** Where the store lives, without credentials. */
  readonly location: string;

  isInitialised(): Promise<boolean>;
  masterKeyChecks(): Promise<ReadonlyArray<{ version: number; keyCheck: string }>>;
  initialise(input: {
    masterKeyCheck: string;
    adminToken: NewToken;
    audit: AuditInput;
  }): Promise<void>;

  createSecret(secret: NewSecret, seal: Sealer, audit: AuditInput): Promise<SecretRecord>;
  getSecret(name: string): Promise<SecretRecord | undefined>;
  listSecrets(prefix?: string): Promise<SecretSummary[]>;
  deleteSecret(name: string, audit: AuditInput): Promise<void>;

  putVersion(
    name: string,
    seal: Sealer,
    options: PutOptions,
    audit: AuditInput,
  ): Promise<VersionRecord>;
  listVersions(name: string): Promise<VersionRecord[]>;
  /** Reads a sealed value and records the read in the audit trail. */
  readVersion(name: string, selector: VersionSelector, audit: AuditInput): Promise<SealedVersion>;

  close(): Promise<void>;
}
