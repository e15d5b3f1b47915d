import type { AuditEntry } from './audit-append.js';
import type { AuditBatchTransaction, RunAuditBatch } from './audit-batch.js';

interface Pending {
  readonly key: string | undefined;
  readonly read: ((tx: AuditBatchTransaction) => Promise<unknown>) | undefined;
  readonly entry: (result: unknown) => AuditEntry;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

// Bounds one transaction; a busier moment simply takes several batches.
const MAX_BATCH = 1_000;

/**
 * Group commit for audit events that record no change of their own (reads,
 * API requests): concurrent callers share one write transaction, so one
 * commit and one fsync serve the whole batch. Each caller's promise settles
 * only once the batch is durable, so no read is ever served before its event
 * is on disk; when the batch fails, every caller in it fails. One batch is in
 * flight at a time; callers arriving meanwhile form the next one.
 */
export class AuditGroupCommit {
  readonly #run: RunAuditBatch;
  readonly #now: () => Date;
  #pending: Pending[] = [];
  #busy = false;
  #idle: Array<() => void> = [];

  /** `run` runs one batch; what it committed must be durable once it resolves. */
  constructor(run: RunAuditBatch, now: () => Date) {
    this.#run = run;
    this.#now = now;
  }

  /** Appends one event. */
  append(entry: AuditEntry): Promise<void> {
    return this.#enqueue(undefined, undefined, () => entry) as Promise<void>;
  }

  /**
   * Runs `read` in the batch's transaction and appends the event `entry` makes
   * of its result. `read` must not write: its failure then fails this caller
   * alone, with no event. Callers with the same `key` in one batch share one
   * run of `read` (they see the same transaction, so the same rows).
   */
  readAndAppend<T>(
    key: string,
    read: (tx: AuditBatchTransaction) => Promise<T>,
    entry: (result: T) => AuditEntry,
  ): Promise<T> {
    return this.#enqueue(key, read, entry as (result: unknown) => AuditEntry) as Promise<T>;
  }

  /** Resolves once every caller so far has been answered (before the store closes). */
  idle(): Promise<void> {
    if (!this.#busy) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #enqueue(
    key: string | undefined,
    read: ((tx: AuditBatchTransaction) => Promise<unknown>) | undefined,
    entry: (result: unknown) => AuditEntry,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ key, read, entry, resolve, reject });
      if (this.#busy) return;
      this.#busy = true;
      void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      // Not a microtask: the event loop first finishes the I/O callbacks that
      // are ready, so the requests that arrived together join one batch.
      await new Promise((resolve) => setImmediate(resolve));
      await this.#commit(this.#pending.splice(0, MAX_BATCH));
    }
    this.#busy = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Settles every caller in `batch`; never rejects. */
  async #commit(batch: readonly Pending[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await this.#run(async (tx) => {
        // One outcome per distinct read, shared by every caller that asked for it.
        const reads = new Map<string, Promise<Outcome>>();
        for (const pending of batch) {
          if (pending.key !== undefined && pending.read && !reads.has(pending.key)) {
            reads.set(pending.key, settled(pending.read(tx)));
          }
        }
        const shared = new Map<string, Outcome>();
        for (const [key, outcome] of reads) shared.set(key, await outcome);
        const results = batch.map((pending) =>
          pending.key === undefined ? NO_READ : (shared.get(pending.key) as Outcome),
        );
        const entries = batch.flatMap((pending, i) => {
          const outcome = results[i] as Outcome;
          return outcome.ok ? [pending.entry(outcome.value)] : [];
        });
        await tx.appendEvents(entries, this.#now());
        return results;
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i] as Outcome;
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }
}

const NO_READ: Outcome = { ok: true, value: undefined };

function settled(read: Promise<unknown>): Promise<Outcome> {
  return read.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}
