import type { TokenView } from '../access/token-service.js';
import type { AuditEvent } from '../audit/audit-event.js';
import type { RotationRecord } from '../core/rotation.js';
import {
  type SecretRecord,
  type SecretSummary,
  stageLabels,
  type VersionRecord,
} from '../core/secret.js';
import type { RotationOutcome } from '../engine/rotation-engine.js';
import type { RevealedVersion } from './secret-service.js';

// One JSON shape per thing, shared by the API and the CLI's --json output, so both always agree.

export function isoOrNull(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}

export function secretJson(secret: SecretRecord) {
  return {
    name: secret.name,
    type: secret.type,
    version: secret.lastVersion,
    state: secret.state,
    config: secret.config,
    policy: secret.policy,
    createdAt: secret.createdAt.toISOString(),
    lastRotatedAt: isoOrNull(secret.lastRotatedAt),
    nextRotationAt: isoOrNull(secret.nextRotationAt),
    failureCount: secret.failureCount,
  };
}

export function summaryJson(secret: SecretSummary) {
  return {
    name: secret.name,
    type: secret.type,
    currentVersion: secret.currentVersion,
    state: secret.state,
    createdAt: secret.createdAt.toISOString(),
    lastRotatedAt: isoOrNull(secret.lastRotatedAt),
    nextRotationAt: isoOrNull(secret.nextRotationAt),
    graceUntil: isoOrNull(secret.graceUntil),
    failureCount: secret.failureCount,
  };
}

export function versionJson(version: VersionRecord) {
  return {
    version: version.number,
    stages: stageLabels(version),
    state: version.state,
    createdAt: version.createdAt.toISOString(),
    graceUntil: isoOrNull(version.graceUntil),
  };
}

/** The only representation that carries a value: returned to a caller who asked for it, never logged. */
export function revealedJson(read: RevealedVersion) {
  return {
    name: read.name,
    version: read.version.number,
    stages: stageLabels(read.version),
    value: read.value.reveal(),
    createdAt: read.version.createdAt.toISOString(),
  };
}

export function rotationJson(rotation: RotationRecord) {
  return {
    id: rotation.id,
    name: rotation.secretName,
    kind: rotation.kind,
    state: rotation.state,
    fromVersion: rotation.fromVersion,
    toVersion: rotation.toVersion,
    attempt: rotation.attempt,
    dryRun: rotation.dryRun,
    error: rotation.error,
    createdAt: rotation.createdAt.toISOString(),
    finishedAt: isoOrNull(rotation.finishedAt),
  };
}

export function outcomeJson(outcome: RotationOutcome) {
  const { rotation } = outcome;
  return {
    name: rotation.secretName,
    rotation: rotation.id,
    kind: rotation.kind,
    state: rotation.state,
    result: outcome.result,
    fromVersion: rotation.fromVersion,
    toVersion: rotation.toVersion,
    error: outcome.error ?? null,
  };
}

export function tokenJson(token: TokenView) {
  return {
    id: token.id,
    name: token.name,
    policy: token.policy,
    createdAt: token.createdAt.toISOString(),
    expiresAt: isoOrNull(token.expiresAt),
  };
}

export function auditEventJson(event: AuditEvent) {
  return {
    seq: event.seq,
    at: new Date(event.at).toISOString(),
    actor: event.actor,
    action: event.action,
    secret: event.secret,
    version: event.version,
    outcome: event.outcome,
    details: JSON.parse(event.details) as unknown,
    hash: event.hash,
  };
}
