import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/**
 * How long a commit must survive. `durable` commits are flushed to disk before
 * they return: they hold values (a pending value must exist before any target
 * sees it) or user changes. `replayable` commits only record a rotation's
 * progress: each step is idempotent, so if a power cut loses one, the step runs
 * again; they still survive a process crash.
 */
export type Durability = 'durable' | 'replayable';

/** Runs `work` in one write transaction; each dialect knows how to serialise writers. */
export type WriteTransaction = <T>(
  work: (tx: Db) => Promise<T>,
  durability?: Durability,
) => Promise<T>;

/** What every part of the Kysely store shares. */
export interface StoreContext {
  readonly db: Db;
  readonly write: WriteTransaction;
  readonly now: () => Date;
}
