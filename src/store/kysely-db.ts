import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/** Runs `work` in one write transaction; each dialect knows how to serialise writers. */
export type WriteTransaction = <T>(work: (tx: Db) => Promise<T>) => Promise<T>;

/** What every part of the Kysely store shares. */
export interface StoreContext {
  readonly db: Db;
  readonly write: WriteTransaction;
  readonly now: () => Date;
}
