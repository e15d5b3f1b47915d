/**
 * Finding due work must cost O(due), not O(secrets): the scheduler's query
 * is timed through the real store API with 1k, 10k and 100k secrets of which
 * 100 are due, side by side with the same predicate forced to scan the table.
 * Usage: npm run bench:due  (writes bench/results/due-query.json)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';
import { machine, median } from './machine.js';

const SIZES = [1_000, 10_000, 100_000];
const DUE = 100;
const RUNS = 30;
const ADMIN_URL =
  process.env.ROTOR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NOW = Date.parse('2026-06-01T00:00:00Z');

/** Rows: `DUE` secrets due an hour ago, the rest due within the next 90 days. */
function rowsFor(size: number): Array<[string, number]> {
  return Array.from({ length: size }, (_, i) => [
    `bench/s${String(i).padStart(6, '0')}`,
    i < DUE ? NOW - 3_600_000 : NOW + 60_000 + Math.floor(Math.random() * 90 * 86_400_000),
  ]);
}

interface Measurement {
  store: string;
  secrets: number;
  due: number;
  indexedMs: number;
  scanMs: number;
  scanOverIndexed: number;
  plan: string;
}

async function timeDue(store: Store): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const due = await store.rotations.dueSecrets(new Date(NOW), DUE);
    samples.push(performance.now() - start);
    if (due.length !== DUE) throw new Error(`expected ${DUE} due secrets, got ${due.length}`);
  }
  return median(samples);
}

const DUE_SQL =
  'select name, next_rotation_at from secrets where next_rotation_at is not null and next_rotation_at <= $1 order by next_rotation_at, name limit 100';

async function sqlite(size: number): Promise<Measurement> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-'));
  const path = join(dir, 'rotor.db');
  const store = await openStore(`sqlite:${path}`, { create: true });
  const raw = new SqliteDatabase(path);
  try {
    const insert = raw.prepare(
      "insert into secrets (name, type, config, policy, state, last_version, next_rotation_at, created_at, updated_at) values (?, 'api-key', '{}', '{}', 'active', 1, ?, 0, 0)",
    );
    raw.transaction(() => {
      for (const [name, at] of rowsFor(size)) insert.run(name, at);
    })();
    raw.exec('analyze');
    const sqliteSql = DUE_SQL.replace('$1', '?');
    const plan = raw
      .prepare(`explain query plan ${sqliteSql}`)
      .all(NOW)
      .map((r) => (r as { detail: string }).detail)
      .join('; ');
    const indexedMs = await timeDue(store);
    // Unary + on the column hides it from the planner: the same query as a full scan.
    const scan = raw.prepare(
      sqliteSql
        .replaceAll('next_rotation_at', '+next_rotation_at')
        .replace('select name, +next_rotation_at', 'select name, next_rotation_at'),
    );
    const scanSamples: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      scan.all(NOW);
      scanSamples.push(performance.now() - start);
    }
    const scanMs = median(scanSamples);
    return {
      store: 'sqlite',
      secrets: size,
      due: DUE,
      indexedMs,
      scanMs,
      scanOverIndexed: scanMs / indexedMs,
      plan,
    };
  } finally {
    raw.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgres(size: number): Promise<Measurement> {
  const name = `rotor_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const store = await openStore(url.toString(), { create: true });
  const raw = new pg.Client({ connectionString: url.toString() });
  await raw.connect();
  try {
    const rows = rowsFor(size);
    for (let i = 0; i < rows.length; i += 5_000) {
      const chunk = rows.slice(i, i + 5_000);
      await raw.query(
        "insert into secrets (name, type, config, policy, state, last_version, next_rotation_at, created_at, updated_at) select n, 'api-key', '{}', '{}', 'active', 1, t, 0, 0 from unnest($1::text[], $2::bigint[]) as u(n, t)",
        [chunk.map((r) => r[0]), chunk.map((r) => r[1])],
      );
    }
    await raw.query('analyze secrets');
    const plan = (await raw.query(`explain ${DUE_SQL}`, [NOW])).rows
      .map((r) => r['QUERY PLAN'])
      .join('; ');
    const indexedMs = await timeDue(store);
    await raw.query(
      'set enable_indexscan = off; set enable_bitmapscan = off; set enable_indexonlyscan = off',
    );
    const scanSamples: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      await raw.query(DUE_SQL, [NOW]);
      scanSamples.push(performance.now() - start);
    }
    const scanMs = median(scanSamples);
    return {
      store: 'postgres',
      secrets: size,
      due: DUE,
      indexedMs,
      scanMs,
      scanOverIndexed: scanMs / indexedMs,
      plan,
    };
  } finally {
    await raw.end();
    await store.close();
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

const results: Measurement[] = [];
for (const size of SIZES) {
  results.push(await sqlite(size));
  results.push(await postgres(size));
  console.log(
    results
      .slice(-2)
      .map(
        (r) =>
          `${r.store} ${r.secrets}: due query ${r.indexedMs.toFixed(3)} ms, forced scan ${r.scanMs.toFixed(3)} ms`,
      )
      .join('\n'),
  );
}
const output = {
  benchmark: 'due-query',
  description:
    'median latency of the scheduler due query (100 due) through the store API, against the same predicate forced to scan',
  machine: machine(),
  runsPerPoint: RUNS,
  comparedTo: 'the same query with indexes disabled (full table scan)',
  results,
};
writeFileSync(
  new URL('./results/due-query.json', import.meta.url),
  `${JSON.stringify(output, null, 2)}\n`,
);
