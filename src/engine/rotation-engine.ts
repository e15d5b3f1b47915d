import type { Actor, AuditInput } from '../audit/audit-event.js';
import { parseDuration } from '../core/duration.js';
import { isRotorError, RotorError } from '../core/errors.js';
import { graceEndsAt } from '../core/policy.js';
import type { Lease, RotationRecord } from '../core/rotation.js';
import {
  type DueDecision,
  decideDue,
  planNextRotation,
  type Random,
  retryDelayMs,
} from '../core/rotation-schedule.js';
import {
  nextStep,
  onFailure,
  type RotationKind,
  type RotationStep,
} from '../core/rotation-state.js';
import type { SecretRecord } from '../core/secret.js';
import type { SecretValue } from '../core/secret-value.js';
import { openValue, sealValue } from '../crypto/envelope.js';
import { type MasterKeyring, valueFingerprint } from '../crypto/master-keyring.js';
import type {
  Rotator,
  RotatorContext,
  RotatorSecret,
  VersionedValue,
} from '../rotators/rotator.js';
import { rotatorFor } from '../rotators/rotator-registry.js';
import { type SinkPublication, SinkPublisher } from '../sinks/sink-publisher.js';
import type { Store } from '../store/store.js';
import type { Alerter } from './alerter.js';
import { checkSecret, type DriftResult } from './drift-check.js';
import { sanitizedMessage } from './error-message.js';
import { failpointAfter } from './failpoint.js';
import { isLeaseOwnerDead } from './lease-owner.js';

/** How one rotation ended, as data: the CLI and API report it, nothing throws for a failed target. */
export interface RotationOutcome {
  readonly rotation: RotationRecord;
  readonly result:
    | 'promoted'
    | 'retired'
    | 'rolled_back'
    | 'dry_run'
    | 'cancelled'
    | 'stalled'
    | 'abandoned';
  /** Sanitised failure, when there was one. */
  readonly error?: string | undefined;
}

export interface RunSummary {
  readonly outcomes: readonly RotationOutcome[];
  readonly deferred: ReadonlyArray<{ secret: string; reason: string }>;
  /** Drift checks that were due (policy `checkEvery`), secrets without a target left out. */
  readonly checks: readonly DriftResult[];
  /** Sink deliveries made, skipped as obsolete, or failed (and queued again). */
  readonly published: readonly SinkPublication[];
}

export interface EngineOptions {
  readonly store: Store;
  readonly keyring: MasterKeyring;
  readonly alerter: Alerter;
  readonly owner: string;
  /** Lease duration; renewed every third of it while a rotation runs. */
  readonly leaseMs?: number;
  readonly now?: () => Date;
  readonly random?: Random;
  readonly isOwnerDead?: (owner: string) => boolean;
}

const CANCELLED = 'cancelled on request';
const BATCH = 100;

/**
 * Drives rotations through the protocol: every step's effect is committed
 * before the next starts, so any process can resume any rotation.
 */
export class RotationEngine {
  readonly #store: Store;
  readonly #keyring: MasterKeyring;
  readonly #alerter: Alerter;
  readonly #lease: Lease;
  readonly #now: () => Date;
  readonly #random: Random;
  readonly #isOwnerDead: (owner: string) => boolean;
  readonly #publisher: SinkPublisher;

  constructor(options: EngineOptions) {
    this.#store = options.store;
    this.#keyring = options.keyring;
    this.#alerter = options.alerter;
    this.#lease = { owner: options.owner, ttlMs: options.leaseMs ?? 60_000 };
    this.#now = options.now ?? (() => new Date());
    this.#random = options.random ?? Math.random;
    this.#isOwnerDead = options.isOwnerDead ?? isLeaseOwnerDead;
    this.#publisher = new SinkPublisher({ ...options, now: this.#now, random: this.#random });
  }

  /**
   * Rotates now, whatever the schedule. A `previous` still in grace is retired
   * on the target first: an operator asking for a rotation ends its grace early.
   */
  async rotate(
    name: string,
    actor: Actor,
    options: { dryRun?: boolean } = {},
  ): Promise<RotationOutcome> {
    const dryRun = options.dryRun ?? false;
    const rotation = await this.#begin(name, 'rotate', actor, { dryRun, onlyIfDue: false });
    return this.#publishAfter(await this.#drive(rotation as RotationRecord, actor), actor);
  }

  /** Makes `previous` current again, through the rotator, as a rotation of its own. */
  async rollback(name: string, actor: Actor): Promise<RotationOutcome> {
    const rotation = await this.#begin(name, 'rollback', actor, {
      dryRun: false,
      onlyIfDue: false,
    });
    return this.#publishAfter(await this.#drive(rotation as RotationRecord, actor), actor);
  }

  /** Stops an in-flight rotation and rolls it back; nothing `pending` is left. */
  async cancel(name: string, actor: Actor): Promise<RotationOutcome> {
    const rotation = await this.#store.rotations.takeOverForCancel(name, this.#lease, CANCELLED, {
      actor,
      action: 'rotation.cancel_requested',
    });
    if (!rotation) {
      if (!(await this.#store.getSecret(name)))
        throw new RotorError('ERR_SECRET_NOT_FOUND', `secret ${name} does not exist`);
      throw new RotorError(
        'ERR_NOT_IN_FLIGHT',
        `secret ${name} has no rotation in flight that can be cancelled`,
      );
    }
    return this.#drive(rotation, actor);
  }

  /**
   * All work that is due: rotations left unfinished by a crash, grace periods
   * that ended, secrets whose next rotation came. Returns when none is left.
   */
  async runOnce(
    actor: Actor = 'scheduler',
    /** Asked before each new piece of work: a shutting-down server claims nothing more. */
    stopping: () => boolean = () => false,
  ): Promise<RunSummary> {
    const outcomes: RotationOutcome[] = [];
    const deferred: Array<{ secret: string; reason: string }> = [];
    for (const unfinished of await this.#store.rotations.unfinished()) {
      if (stopping()) break;
      // A parked secret waits for a person: `rotor secret resume` or `rotor rotate --cancel`.
      if ((await this.#store.getSecret(unfinished.secretName))?.state === 'needs-attention')
        continue;
      const claimed = await this.#store.rotations.claim(
        unfinished.id,
        this.#lease,
        this.#isOwnerDead,
      );
      if (claimed) outcomes.push(await this.#drive(claimed, actor));
    }
    const triedRetire = new Set<string>();
    for (
      let batch = await this.#expiredGraces(triedRetire);
      batch.length > 0;
      batch = await this.#expiredGraces(triedRetire)
    ) {
      if (stopping()) break;
      for (const name of batch) {
        triedRetire.add(name);
        const rotation = await this.#begin(name, 'retire', actor, {
          dryRun: false,
          onlyIfDue: true,
        });
        if (rotation) outcomes.push(await this.#drive(rotation, actor));
      }
    }
    let after: Awaited<ReturnType<Store['rotations']['dueSecrets']>>[number] | undefined;
    for (;;) {
      const due = stopping()
        ? []
        : await this.#store.rotations.dueSecrets(this.#now(), BATCH, after);
      if (due.length === 0) break;
      for (const item of due) {
        if (stopping()) break;
        after = item;
        const secret = await this.#store.getSecret(item.name);
        if (!secret) continue;
        const graceUntil =
          (await this.#store.listVersions(item.name)).find((v) => v.stage === 'previous')
            ?.graceUntil ?? null;
        const decision = this.#decideDue(secret, item.nextRotationAt, graceUntil);
        if (decision.action === 'unschedulable') {
          const moved = await this.#store.rotations.defer(item, null, {
            actor,
            action: 'rotation.deferred',
            outcome: 'failure',
            details: { reason: decision.reason, until: null },
          });
          if (!moved) continue;
          deferred.push({ secret: item.name, reason: decision.reason });
          await this.#alerter.alert({
            secret: item.name,
            rotation: 0,
            step: 'schedule',
            message: `not rotated: ${decision.reason}; it stays off schedule until its policy is updated`,
            needsAttention: true,
          });
          continue;
        }
        if (decision.action === 'defer') {
          const moved = await this.#store.rotations.defer(item, decision.until, {
            actor,
            action: 'rotation.deferred',
            details: { reason: decision.reason, until: decision.until?.toISOString() ?? null },
          });
          if (moved) deferred.push({ secret: item.name, reason: decision.reason });
          continue;
        }
        const rotation = await this.#begin(item.name, 'rotate', actor, {
          dryRun: false,
          onlyIfDue: true,
        });
        if (rotation) outcomes.push(await this.#drive(rotation, actor));
      }
    }
    const published = stopping() ? [] : await this.#publisher.drain(actor);
    return {
      outcomes,
      deferred,
      published,
      checks: stopping() ? [] : await this.#runDueChecks(actor),
    };
  }

  /**
   * The schedule's verdict on a due secret. A stored policy the schedule cannot
   * follow (written by a newer Rotor, or by hand) takes that secret off the
   * schedule, with an alert, instead of stopping the run for every other one.
   */
  #decideDue(
    secret: SecretRecord,
    dueAt: Date,
    graceUntil: Date | null,
  ): DueDecision | { action: 'unschedulable'; reason: string } {
    try {
      return decideDue(
        secret.policy,
        dueAt,
        this.#now(),
        secret.lastRotatedAt,
        this.#random,
        graceUntil,
      );
    } catch (error) {
      if (!isRotorError(error) || error.code !== 'ERR_INVALID_POLICY') throw error;
      return { action: 'unschedulable', reason: `its stored policy is invalid: ${error.message}` };
    }
  }

  /** An operator's rotation publishes at once; whatever fails stays queued for the next run. */
  async #publishAfter(outcome: RotationOutcome, actor: Actor): Promise<RotationOutcome> {
    if (outcome.result === 'promoted')
      await this.#publisher.drain(actor, outcome.rotation.secretName).catch(() => undefined);
    return outcome;
  }

  /** Logs in with each `current` whose check is due; a secret without a target is not checked again. */
  async #runDueChecks(actor: Actor): Promise<DriftResult[]> {
    const results: DriftResult[] = [];
    const tried = new Set<string>();
    for (;;) {
      const due = (await this.#store.rotations.dueChecks(this.#now(), BATCH + tried.size)).filter(
        (d) => !tried.has(d.name),
      );
      if (due.length === 0) return results;
      for (const item of due) {
        tried.add(item.name);
        const secret = await this.#store.getSecret(item.name);
        if (!secret) continue;
        // `?? '1h'`: policies stored before checkEvery existed.
        const every = parseDuration(secret.policy.checkEvery ?? '1h', 'checkEvery');
        const next = new Date(this.#now().getTime() + every);
        if (!(await this.#store.rotations.rescheduleCheck(item, next))) continue;
        const result = await checkSecret(
          this.#store,
          this.#keyring,
          this.#alerter,
          item.name,
          actor,
        );
        if (result.status === 'no-target')
          await this.#store.rotations.rescheduleCheck({ name: item.name, nextCheckAt: next }, null);
        else results.push(result);
      }
    }
  }

  async #expiredGraces(tried: ReadonlySet<string>): Promise<string[]> {
    const names = await this.#store.rotations.expiredGraces(this.#now(), BATCH + tried.size);
    return names.filter((n) => !tried.has(n)).slice(0, BATCH);
  }

  async #begin(
    name: string,
    kind: RotationKind,
    actor: Actor,
    options: { dryRun: boolean; onlyIfDue: boolean },
  ): Promise<RotationRecord | undefined> {
    return this.#store.rotations.begin(
      { secret: name, kind, lease: this.#lease, ...options },
      { actor, action: `${kind === 'rotate' ? 'rotation' : kind}.started` },
    );
  }

  async #drive(start: RotationRecord, actor: Actor): Promise<RotationOutcome> {
    let rotation = start;
    const secret = await this.#store.getSecret(rotation.secretName);
    if (!secret) return { rotation, result: 'abandoned', error: 'the secret was deleted' };
    const rotator = rotatorFor(secret.type);
    const renewal = setInterval(() => {
      void this.#store.rotations.renew(rotation.id, this.#lease).catch(() => undefined);
    }, this.#lease.ttlMs / 3);
    renewal.unref();
    const values = this.#driveValues(secret.name, actor);
    try {
      for (;;) {
        const step = nextStep(rotation.kind, rotation.state, rotation.dryRun);
        if (!step) return outcomeOf(rotation);
        try {
          rotation = await this.#perform(step, rotation, secret, rotator, actor, values);
          failpointAfter(step);
        } catch (error) {
          if (isRotorError(error) && error.code === 'ERR_LEASE_LOST') {
            return { rotation, result: 'abandoned', error: error.message };
          }
          const message = sanitizedMessage(error, values.handled);
          values.forgetReferences();
          const failed = await this.#onStepFailure(rotation, secret, step, message, actor);
          if (failed.result) return failed.result;
          rotation = failed.rotation;
        }
      }
    } finally {
      clearInterval(renewal);
    }
  }

  async #onStepFailure(
    rotation: RotationRecord,
    secret: SecretRecord,
    step: RotationStep,
    message: string,
    actor: Actor,
  ): Promise<{ rotation: RotationRecord; result?: RotationOutcome }> {
    const rollbackFrom = step === 'rollback' ? undefined : onFailure(rotation.kind, rotation.state);
    if (rollbackFrom) {
      const rolling = await this.#store.rotations.advance(
        rotation.id,
        this.#lease,
        rotation.state,
        rollbackFrom,
        { actor, action: 'rotation.failed', outcome: 'failure', details: { step, error: message } },
        message,
      );
      return { rotation: rolling };
    }
    // A failed rollback, promote or retire stays in its state; a later run retries it after a backoff.
    const retryAt = new Date(this.#now().getTime() + retryDelayMs(rotation.attempt, this.#random));
    const park = secret.failureCount + 1 >= secret.policy.maxFailures;
    await this.#store.rotations.release(rotation.id, this.#lease, message, retryAt, park, {
      actor,
      action: `rotation.${step}_failed`,
    });
    await this.#alerter.alert({
      secret: rotation.secretName,
      rotation: rotation.id,
      step,
      message: park
        ? `${step} failed: ${message}; the secret needs attention and this rotation waits until it is resumed`
        : `${step} failed: ${message}; retrying after ${retryAt.toISOString()}`,
      needsAttention: park,
    });
    return { rotation, result: { rotation, result: 'stalled', error: message } };
  }

  async #perform(
    step: RotationStep,
    rotation: RotationRecord,
    secret: SecretRecord,
    rotator: Rotator,
    actor: Actor,
    values: DriveValues,
  ): Promise<RotationRecord> {
    const target: RotatorSecret = { name: secret.name, config: secret.config };
    const { read, ctx, handled } = values;
    const audit = (action: string, details?: Record<string, unknown>): AuditInput => ({
      actor,
      action,
      details,
    });
    const rotations = this.#store.rotations;
    switch (step) {
      case 'create': {
        if (rotation.kind === 'rollback')
          return rotations.storePending(
            rotation.id,
            this.#lease,
            undefined,
            audit('rollback.pending_stored'),
          );
        const current = await read(rotation.fromVersion);
        const retiredEarly = rotation.dryRun
          ? undefined
          : await this.#retirePrevious(rotation, target, current, rotator, ctx, read);
        const value = await rotator.generate(target, current, ctx);
        handled.push(value);
        return rotations.storePending(
          rotation.id,
          this.#lease,
          (version) => sealValue(value, { secret: secret.name, version }, this.#keyring.current),
          audit('rotation.pending_stored', {
            valueHmac: valueFingerprint(this.#keyring, value.revealBytes()),
            ...(retiredEarly === undefined ? {} : { retiredEarly }),
          }),
          retiredEarly,
        );
      }
      case 'apply':
      case 'verify': {
        const input = {
          secret: target,
          current: await read(rotation.fromVersion),
          pending: await read(toVersionOf(rotation)),
        };
        await (step === 'apply' ? rotator.apply(input, ctx) : rotator.verify(input, ctx));
        const next = step === 'apply' ? 'applied' : 'verified';
        return rotations.advance(
          rotation.id,
          this.#lease,
          rotation.state,
          next,
          audit(`rotation.${next}`),
        );
      }
      case 'promote': {
        const now = this.#now();
        return rotations.promote(
          rotation.id,
          this.#lease,
          {
            graceUntil: graceEndsAt(secret.policy, now),
            nextRotationAt: planNextRotation(secret.policy, {
              from: now,
              lastRotatedAt: now,
              random: this.#random,
            }),
            maxVersions: secret.policy.maxVersions,
          },
          audit(rotation.kind === 'rollback' ? 'rollback.promoted' : 'rotation.promoted'),
        );
      }
      case 'retire': {
        const retiring = await read(toVersionOf(rotation));
        await rotator.retire(
          { secret: target, current: await read(rotation.fromVersion), retiring },
          ctx,
        );
        return rotations.finishRetire(
          rotation.id,
          this.#lease,
          secret.policy.maxVersions,
          audit('version.retired'),
        );
      }
      case 'rollback':
        return this.#rollback(rotation, secret, rotator, target, ctx, actor, read);
    }
  }

  /**
   * Promotion will push a `previous` still in grace out of its stage, so it is
   * revoked on the target now, inside this rotation (idempotent if resumed), and
   * leaves its stage with the pending value's write: if this rotation then fails,
   * the store does not keep calling valid a value the target no longer accepts.
   */
  async #retirePrevious(
    rotation: RotationRecord,
    target: RotatorSecret,
    current: VersionedValue,
    rotator: Rotator,
    ctx: RotatorContext,
    read: (version: number) => Promise<VersionedValue>,
  ): Promise<number | undefined> {
    const previous = (await this.#store.listVersions(rotation.secretName)).find(
      (v) => v.stage === 'previous',
    );
    if (!previous) return undefined;
    await rotator.retire({ secret: target, current, retiring: await read(previous.number) }, ctx);
    return previous.number;
  }

  async #rollback(
    rotation: RotationRecord,
    secret: SecretRecord,
    rotator: Rotator,
    target: RotatorSecret,
    ctx: RotatorContext,
    actor: Actor,
    read: (version: number) => Promise<VersionedValue>,
  ): Promise<RotationRecord> {
    if (rotation.toVersion !== null) {
      await rotator.rollback(
        {
          secret: target,
          current: await read(rotation.fromVersion),
          pending: await read(rotation.toVersion),
        },
        ctx,
      );
    }
    const failed = !rotation.dryRun && rotation.error !== CANCELLED;
    const failures = secret.failureCount + 1;
    const needsAttention = failed && failures >= secret.policy.maxFailures;
    const retryAt =
      needsAttention || secret.policy.manual
        ? null
        : new Date(this.#now().getTime() + retryDelayMs(failures, this.#random));
    const finished = await this.#store.rotations.finishRollback(
      rotation.id,
      this.#lease,
      rotation.state,
      { failed, needsAttention, nextRotationAt: retryAt },
      { actor, action: 'rotation.rolled_back', details: { dryRun: rotation.dryRun } },
    );
    if (failed) {
      await this.#alerter.alert({
        secret: secret.name,
        rotation: rotation.id,
        step: 'rollback',
        message: needsAttention
          ? `rotation failed ${failures} times in a row (${rotation.error}); the secret needs attention and will not be retried until resumed`
          : `rotation failed (${rotation.error}); rolled back, retrying after ${retryAt?.toISOString() ?? 'a manual rotate'}`,
        needsAttention,
      });
    }
    return finished;
  }

  /**
   * What one drive of a rotation opens, each once: its versions (immutable)
   * and the referenced secrets its rotator reads (an admin credential used by
   * retire and apply is read, and audited, once per drive).
   */
  #driveValues(name: string, actor: Actor): DriveValues {
    const versions = new Map<number, Promise<SecretValue>>();
    const references = new Map<string, Promise<SecretValue>>();
    const handled: SecretValue[] = [];
    const opened = (value: SecretValue) => {
      handled.push(value);
      return value;
    };
    const once = <K>(
      cache: Map<K, Promise<SecretValue>>,
      key: K,
      open: () => Promise<SecretValue>,
    ) => {
      let value = cache.get(key);
      if (value === undefined) {
        value = open().then(opened);
        // A failed read is not kept: the next step tries again.
        value.catch(() => cache.delete(key));
        cache.set(key, value);
      }
      return value;
    };
    return {
      handled,
      read: async (version) => ({
        version,
        value: await once(versions, version, async () => {
          const { sealed } = await this.#store.rotations.sealedVersion(name, version);
          return openValue(sealed, { secret: name, version }, this.#keyring);
        }),
      }),
      ctx: {
        now: this.#now,
        readSecret: (other) =>
          once(references, other, async () => {
            const { version, sealed } = await this.#store.readVersion(
              other,
              { stage: 'current' },
              { actor, action: 'secret.read' },
            );
            return openValue(sealed, { secret: other, version: version.number }, this.#keyring);
          }),
      },
      forgetReferences: () => references.clear(),
    };
  }
}

/** The values one drive of a rotation has opened, and how its steps read them. */
interface DriveValues {
  /** Every value opened, so that none reaches an error message. */
  readonly handled: SecretValue[];
  read(version: number): Promise<VersionedValue>;
  readonly ctx: RotatorContext;
  /** After a failed step: a referenced secret may have changed (the admin credential rotated). */
  forgetReferences(): void;
}

function toVersionOf(rotation: RotationRecord): number {
  if (rotation.toVersion === null)
    throw new RotorError('ERR_STORE', `rotation ${rotation.id} has no pending version recorded`);
  return rotation.toVersion;
}

function outcomeOf(rotation: RotationRecord): RotationOutcome {
  if (rotation.state === 'done')
    return { rotation, result: rotation.kind === 'retire' ? 'retired' : 'promoted' };
  if (rotation.dryRun) return { rotation, result: 'dry_run' };
  if (rotation.error === CANCELLED) return { rotation, result: 'cancelled' };
  return { rotation, result: 'rolled_back', error: rotation.error ?? undefined };
}
