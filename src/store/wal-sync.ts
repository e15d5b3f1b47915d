import { closeSync, fdatasync, openSync } from 'node:fs';
import { promisify } from 'node:util';

const datasync = promisify(fdatasync);

/**
 * Flushes an SQLite write-ahead log to disk off the event loop. A transaction
 * committed with `synchronous = NORMAL` is in the WAL but not yet on disk;
 * once a flush that started after its commit resolves, it survives a power
 * cut as if it had been committed with `FULL`, and better-sqlite3 did not
 * block the thread for the fsync. (A checkpoint that moved frames into the
 * database first syncs the database file, so those frames are safe too.)
 *
 * The file stays open until `close`: SQLite deletes the WAL only when the
 * last connection to the database closes, and the store holds one.
 */
export class WalSync {
  readonly #path: string;
  #fd: number | undefined;

  /** `walPath`: the database path followed by `-wal`. */
  constructor(walPath: string) {
    this.#path = walPath;
  }

  /** Resolves once everything committed before the call is on disk. */
  async flush(): Promise<void> {
    // Opened on the first flush, after a commit, when the WAL surely exists.
    this.#fd ??= openSync(this.#path, 'r+');
    await datasync(this.#fd);
  }

  /** Call once no flush is awaited any more. */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
