import type { AuditInput } from '../audit/audit-event.js';
import type { Lease, RotationRecord } from '../core/rotation.js';
import type { RotationKind, RotationState } from '../core/rotation-state.js';
import type { SinkOutbox } from './sink-outbox.js';
import type { SealedVersion, Sealer } from './store.js';

export interface BeginRotation {
  readonly secret: string;
  readonly kind: RotationKind;
  readonly dryRun: boolean;
  readonly lease: Lease;
  /**
   * Scheduled work only starts while it is still due (next rotation or grace
   * end in the past), so a secret another process just finished is left alone.
   */
  readonly onlyIfDue: boolean;
}

export interface PromotePlan {
  readonly graceUntil: Date;
  readonly nextRotationAt: Date | null;
  readonly maxVersions: number;
}

export interface RollbackOutcome {
  /** False for a dry run or a cancellation: nothing failed. */
  readonly failed: boolean;
  readonly nextRotationAt: Date | null;
  /** Park the secret: too many consecutive failures. */
  readonly needsAttention: boolean;
}

export interface DueCheck {
  readonly name: string;
  readonly nextCheckAt: Date;
}

export interface DueSecret {
  readonly name: string;
  readonly nextRotationAt: Date;
}

/**
 * The durable side of the rotation protocol. Every method that moves a
 * rotation is fenced by its lease and its expected state: a process that lost
 * its lease gets ERR_LEASE_LOST instead of overwriting another's progress.
 */
export interface RotationStore {
  /** Sink publications queued by {@link promote}, drained by the sink publisher. */
  readonly outbox: SinkOutbox;

  /** Inserts a rotation already leased to the caller; undefined when `onlyIfDue` and no longer due. */
  begin(input: BeginRotation, audit: AuditInput): Promise<RotationRecord | undefined>;
  /** Takes the lease of an unfinished rotation whose lease expired (or whose owner `isDead`). */
  claim(
    id: number,
    lease: Lease,
    isDead: (owner: string) => boolean,
  ): Promise<RotationRecord | undefined>;
  renew(id: number, lease: Lease): Promise<boolean>;
  /**
   * Steals the lease of a rotation in flight and sends it to rolling_back with
   * `reason` as its error; undefined when none can be cancelled.
   */
  takeOverForCancel(
    secret: string,
    lease: Lease,
    reason: string,
    audit: AuditInput,
  ): Promise<RotationRecord | undefined>;

  /**
   * `rotate`: stores the new value as `pending`. `rollback`: stages `previous` as `pending`.
   * `retiredEarly` is a `previous` version already revoked on the target: it leaves
   * its stage here, so the store never calls valid what the target refuses.
   */
  storePending(
    id: number,
    lease: Lease,
    seal: Sealer | undefined,
    audit: AuditInput,
    retiredEarly?: number,
  ): Promise<RotationRecord>;
  advance(
    id: number,
    lease: Lease,
    from: RotationState,
    to: RotationState,
    audit: AuditInput,
    error?: string,
  ): Promise<RotationRecord>;
  /**
   * In one transaction: `pending` becomes `current`, `current` becomes
   * `previous`, one delivery per sink is queued, the rotation ends.
   */
  promote(id: number, lease: Lease, plan: PromotePlan, audit: AuditInput): Promise<RotationRecord>;
  /** Discards `pending` (or, for a rollback, returns it to `previous`), ends the rotation and records the outcome. */
  finishRollback(
    id: number,
    lease: Lease,
    from: RotationState,
    outcome: RollbackOutcome,
    audit: AuditInput,
  ): Promise<RotationRecord>;
  /** The retired `previous` loses its stage, values beyond maxVersions are destroyed, the rotation ends. */
  finishRetire(
    id: number,
    lease: Lease,
    maxVersions: number,
    audit: AuditInput,
  ): Promise<RotationRecord>;
  /**
   * Records a failure of a step that cannot roll back (counted against the
   * secret, parking it as needs-attention when `park`), and frees the lease
   * so that a later run retries after `retryAt`.
   */
  release(
    id: number,
    lease: Lease,
    error: string,
    retryAt: Date,
    park: boolean,
    audit: AuditInput,
  ): Promise<void>;

  get(id: number): Promise<RotationRecord | undefined>;
  list(query: { secret?: string; limit?: number }): Promise<RotationRecord[]>;
  inFlight(secret: string): Promise<RotationRecord | undefined>;
  /** Every rotation not yet finished, whoever holds it; {@link claim} decides which can be taken. */
  unfinished(): Promise<RotationRecord[]>;
  /** Secrets whose next rotation is due, oldest first, one indexed range scan. */
  dueSecrets(now: Date, limit: number, after?: DueSecret): Promise<DueSecret[]>;
  /** Secrets whose drift check is due, oldest first, one indexed range scan. */
  dueChecks(now: Date, limit: number): Promise<DueCheck[]>;
  /**
   * Takes a due check by moving its next time on (to `next`, or null to stop
   * checking), only if no other process did first; false when one did.
   */
  rescheduleCheck(due: DueCheck, next: Date | null): Promise<boolean>;
  /** Secrets with a `previous` whose grace ended. */
  expiredGraces(now: Date, limit: number): Promise<string[]>;
  /**
   * Moves a due secret's next rotation without rotating (missed window,
   * blackout, grace), only if it is still due at the time seen; false otherwise.
   */
  defer(due: DueSecret, until: Date | null, audit: AuditInput): Promise<boolean>;

  /** A version's sealed value without an audit record: the engine's own reads are audited by its steps. */
  sealedVersion(secret: string, version: number): Promise<SealedVersion>;
}
