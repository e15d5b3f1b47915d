import type { AuditEntry } from './audit-append.js';
import type { SealedVersion, VersionSelector } from './store.js';

/** What one group-commit batch may do inside its write transaction. */
export interface AuditBatchTransaction {
  /** A version's sealed value; it must not write, so its failure leaves the batch intact. */
  readVersion(name: string, selector: VersionSelector): Promise<SealedVersion>;
  /** Appends events to the hash chain, in order. */
  appendEvents(entries: readonly AuditEntry[], now: Date): Promise<void>;
}

/**
 * Runs `work` in one write transaction; what it committed is durable once
 * the promise resolves. Each dialect runs it its own way: the shared query
 * layer by default, prepared statements where that is measurably cheaper.
 */
export type RunAuditBatch = <T>(work: (tx: AuditBatchTransaction) => Promise<T>) => Promise<T>;
