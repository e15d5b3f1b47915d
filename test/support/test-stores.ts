import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { MasterKeyring } from '../../src/crypto/master-keyring.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store, StoreDialect } from '../../src/store/store.js';
import { createTestDatabase } from './postgres-database.js';

export const STORE_DIALECTS: readonly StoreDialect[] = ['sqlite', 'postgres'];

/** One store location for a test file: a temp SQLite file or a fresh PostgreSQL database. */
export interface StoreLocation {
  readonly dialect: StoreDialect;
  readonly url: string;
  /** Runs raw SQL outside Rotor, to inspect or tamper with rows. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  open(now?: () => Date): Promise<Store>;
  destroy(): Promise<void>;
}

export async function createStoreLocation(
  dialect: StoreDialect,
  label: string,
): Promise<StoreLocation> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `rotor-${label}-`));
    const path = join(dir, 'rotor.db');
    return {
      dialect,
      url: `sqlite:${path}`,
      async query<T>(text: string, params: unknown[] = []) {
        const db = new SqliteDatabase(path);
        try {
          const statement = db.prepare(text);
          if (statement.reader) return statement.all(...params) as T[];
          statement.run(...params);
          return [];
        } finally {
          db.close();
        }
      },
      open: (now) => openStore(`sqlite:${path}`, { create: true, now }),
      async destroy() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const database = await createTestDatabase(label);
  return {
    dialect,
    url: database.url,
    async query<T>(text: string, params: unknown[] = []) {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        // Placeholders are written ? for both dialects.
        let index = 0;
        const result = await client.query(
          text.replace(/\?/g, () => `$${++index}`),
          params,
        );
        return result.rows as T[];
      } finally {
        await client.end();
      }
    },
    open: (now) => openStore(database.url, { create: true, now }),
    destroy: () => database.drop(),
  };
}

export function testKeyring(): MasterKeyring {
  return new MasterKeyring([{ version: 1, key: randomBytes(32) }]);
}
