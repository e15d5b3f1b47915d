import type { AuditInput } from '../audit/audit-event.js';
import type { Sink } from '../core/sink.js';

/** One publication of one version to one sink, as queued in the outbox. */
export interface SinkDeliveryRecord {
  readonly id: number;
  readonly secretName: string;
  readonly version: number;
  /** The sink's position in the policy's `sinks`. */
  readonly sinkIndex: number;
  readonly sink: Sink;
  /** The audit action that made the version current (`rotation.promoted`, `secret.put`...). */
  readonly event: string;
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastError: string | null;
  readonly outcome: 'delivered' | 'obsolete' | null;
  readonly createdAt: Date;
  readonly deliveredAt: Date | null;
  /** Whether the version is still the secret's `current` one (when read). */
  readonly isCurrent: boolean;
}

/**
 * The transactional outbox of sink publications. Rows are inserted by the
 * transaction that makes a version current; this drains them, at least once.
 */
export interface SinkOutbox {
  /** Deliveries still to make whose next attempt is due, oldest first; one indexed range scan. */
  due(now: Date, limit: number, secret?: string): Promise<SinkDeliveryRecord[]>;
  /**
   * Takes a due delivery until `until` by moving its next attempt there, only
   * if no other process did first; false when one did. A process that dies
   * holding it leaves it due again at `until`.
   */
  claim(delivery: SinkDeliveryRecord, until: Date): Promise<boolean>;
  /** Ends a delivery: published, or skipped because a newer version became current first. */
  finish(id: number, outcome: 'delivered' | 'obsolete', audit: AuditInput): Promise<void>;
  /** Records a failed attempt (the error sanitised by the caller), retried at `retryAt`. */
  fail(id: number, error: string, retryAt: Date, audit: AuditInput): Promise<void>;
  /** A secret's deliveries, newest first. */
  list(secret: string, limit?: number): Promise<SinkDeliveryRecord[]>;
  /**
   * Deletes up to `limit` deliveries that finished before `before`; how many.
   * Their outcome stays in the audit trail; unfinished ones are never deleted.
   */
  prune(before: Date, limit: number): Promise<number>;
}
