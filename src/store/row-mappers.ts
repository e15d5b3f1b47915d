import type { Selectable } from 'kysely';
import type { AuditEvent } from '../audit/audit-event.js';
import type { Policy } from '../core/policy.js';
import type { RotationRecord } from '../core/rotation.js';
import type { RotationKind, RotationState } from '../core/rotation-state.js';
import type {
  SecretRecord,
  SecretState,
  Stage,
  VersionRecord,
  VersionState,
} from '../core/secret.js';
import type { SealedValue } from '../crypto/envelope.js';
import type { AuditEventsTable, RotationsTable, SecretsTable, VersionsTable } from './schema.js';

export function toSecret(row: Selectable<SecretsTable>): SecretRecord {
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

export function toVersion(row: Selectable<VersionsTable>): VersionRecord {
  return {
    number: Number(row.number),
    stage: row.stage as Stage | null,
    state: row.state as VersionState,
    createdAt: new Date(Number(row.created_at)),
    graceUntil: toDate(row.grace_until),
  };
}

/** The sealed value of a version row, or undefined once destroyed. */
export function toSealed(row: Selectable<VersionsTable>): SealedValue | undefined {
  if (row.ciphertext === null || row.wrapped_key === null || row.master_key_version === null)
    return undefined;
  return {
    ciphertext: Buffer.from(row.ciphertext),
    wrappedKey: Buffer.from(row.wrapped_key),
    masterKeyVersion: Number(row.master_key_version),
  };
}

export function toRotation(
  row: Selectable<RotationsTable> & { secret_name: string },
): RotationRecord {
  return {
    id: Number(row.id),
    secretName: row.secret_name,
    kind: row.kind as RotationKind,
    state: row.state as RotationState,
    fromVersion: Number(row.from_version),
    toVersion: row.to_version === null ? null : Number(row.to_version),
    leaseOwner: row.lease_owner,
    leaseUntil: toDate(row.lease_until),
    attempt: Number(row.attempt),
    error: row.error,
    dryRun: Number(row.dry_run) === 1,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    finishedAt: toDate(row.finished_at),
  };
}

export function toAuditEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    seq: Number(row.seq),
    at: Number(row.at),
    actor: row.actor,
    action: row.action,
    secret: row.secret,
    version: row.version === null ? null : Number(row.version),
    outcome: row.outcome,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(Number(ms));
}
