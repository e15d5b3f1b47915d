import { hash } from 'node:crypto';
import stringify from 'safe-stable-stringify';

/** Who did something: a token id, `scheduler` or `cli`. */
export type Actor = string;

/** What a caller states about an operation; the store adds time, secret, version and the chain. */
export interface AuditInput {
  readonly actor: Actor;
  readonly action: string;
  readonly outcome?: 'success' | 'failure';
  /** Sanitised, value-free facts. Serialised canonically (sorted keys). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** One appended event, as stored. */
export interface AuditEvent {
  readonly seq: number;
  readonly at: number;
  readonly actor: Actor;
  readonly action: string;
  readonly secret: string | null;
  readonly version: number | null;
  readonly outcome: string;
  readonly details: string;
  readonly prevHash: string;
  readonly hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

export function canonicalDetails(details: AuditInput['details']): string {
  // Most events (every read) have none.
  return details === undefined ? '{}' : stringify(details);
}

/**
 * SHA-256 over the previous hash and every field of the event in a fixed
 * order, so editing, deleting or reordering any stored event breaks the chain.
 */
export function auditEventHash(event: Omit<AuditEvent, 'hash'>): string {
  const canonical = JSON.stringify([
    event.prevHash,
    event.seq,
    event.at,
    event.actor,
    event.action,
    event.secret,
    event.version,
    event.outcome,
    event.details,
  ]);
  return hash('sha256', canonical, 'hex');
}
