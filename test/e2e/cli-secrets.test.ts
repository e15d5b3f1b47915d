import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';
import { type CliResult, runCli } from '../support/run-cli.js';

/**
 * End-to-end tests of `rotor init` and `rotor secret ...`: the built CLI runs
 * as a child process, against a fresh SQLite home and a fresh PostgreSQL
 * database, exactly as a user runs it.
 */

type StoreKind = 'sqlite' | 'postgres';
type Env = Record<string, string>;

interface InitJson {
  home: string;
  store: string;
  adminToken: string;
}

interface CreatedJson {
  name: string;
  type: string;
  version: number;
  config: Record<string, unknown>;
  policy: Record<string, unknown>;
  createdAt: string;
  nextRotationAt: string | null;
}

interface ReadJson {
  name: string;
  version: number;
  stages: string[];
  value: string;
  createdAt: string;
}

interface VersionJson {
  version: number;
  stages: string[];
  state: string;
  createdAt: string;
}

interface PutJson extends VersionJson {
  name: string;
}

interface ListEntryJson {
  name: string;
  type: string;
  currentVersion: number;
  createdAt: string;
  nextRotationAt: string | null;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DAY_MS = 86_400_000;
const STACK_FRAME = /^\s+at /m;

function tempHome(label: string): string {
  return mkdtempSync(join(tmpdir(), `rotor-e2e-${label}-`));
}

function newMasterKey(): string {
  return randomBytes(32).toString('base64');
}

function parseJson<T>(result: CliResult): T {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as T;
}

/** Exit code, exactly one `rotor: ` line on stderr naming the problem, nothing on stdout, no stack. */
function expectFailure(result: CliResult, code: 1 | 2, ...mentions: RegExp[]): void {
  expect({ code: result.code, stderr: result.stderr }).toMatchObject({
    code,
    stderr: expect.stringMatching(/^rotor: [^\n]+\n$/),
  });
  expect(result.signal).toBeNull();
  expect(result.stdout).toBe('');
  expect(result.stderr).not.toMatch(STACK_FRAME);
  for (const mention of mentions) expect(result.stderr).toMatch(mention);
}

async function tableNames(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await tableNamesWith(client);
  } finally {
    await client.end();
  }
}

/** Every row of every table, serialised and sorted: equal snapshots mean nothing was written. */
type StoreSnapshot = Record<string, string[]>;

function sortedRows(rows: unknown[]): string[] {
  return rows.map((row) => JSON.stringify(row)).sort();
}

function snapshotSqlite(path: string): StoreSnapshot {
  const db = new SqliteDatabase(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
      .pluck()
      .all() as string[];
    return Object.fromEntries(
      tables.sort().map((t) => [t, sortedRows(db.prepare(`select * from "${t}"`).all())]),
    );
  } finally {
    db.close();
  }
}

async function snapshotPostgres(url: string): Promise<StoreSnapshot> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const snapshot: StoreSnapshot = {};
    for (const table of (await tableNamesWith(client)).sort()) {
      snapshot[table] = sortedRows((await client.query(`select * from "${table}"`)).rows);
    }
    return snapshot;
  } finally {
    await client.end();
  }
}

async function tableNamesWith(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'public'",
  );
  return rows.map((r) => r.table_name);
}

// The two stores share nothing, so their suites run side by side; each suite's own steps run in order.
describe.concurrent.each<{ store: StoreKind }>([{ store: 'sqlite' }, { store: 'postgres' }])(
  'rotor CLI secrets ($store store)',
  // Every step spawns Node processes (~0.5 s of CPU each); leave room for a busy machine.
  { timeout: 180_000 },
  ({ store }) => {
    let home: string;
    let database: TestDatabase | undefined;
    /** ROTOR_STORE naming this setup's store explicitly (for runs from another home). */
    let storeUrl: string;
    let env: Env;
    let initResult: CliResult;
    const cleanups: Array<() => Promise<void> | void> = [];

    const rotor = (args: readonly string[], options: { stdin?: string; env?: Env } = {}) =>
      runCli(args, { env: { ...env, ...options.env }, stdin: options.stdin });

    const keyFile = () => join(home, 'master.key');

    const snapshotStore = (): Promise<StoreSnapshot> | StoreSnapshot =>
      store === 'sqlite' ? snapshotSqlite(join(home, 'rotor.db')) : snapshotPostgres(storeUrl);

    /** Runs a command that must fail, and checks that the store is byte-for-byte unchanged. */
    const expectRejectedWithoutWrites = async (
      args: readonly string[],
      options: { stdin?: string; env?: Env },
      code: 1 | 2,
      ...mentions: RegExp[]
    ) => {
      const before = await snapshotStore();
      expectFailure(await rotor(args, options), code, ...mentions);
      expect(await snapshotStore()).toEqual(before);
    };

    beforeAll(async () => {
      home = tempHome(store);
      cleanups.push(() => rmSync(home, { recursive: true, force: true }));
      if (store === 'postgres') {
        const db = await createTestDatabase('cli_secrets');
        database = db;
        cleanups.push(() => db.drop());
        storeUrl = db.url;
        env = { ROTOR_HOME: home, ROTOR_STORE: db.url };
      } else {
        storeUrl = `sqlite:${join(home, 'rotor.db')}`;
        env = { ROTOR_HOME: home };
      }
      initResult = await rotor(['init', '--json']);
    });

    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    describe.sequential('init', () => {
      it('prints home, store and an rtk_ admin token as JSON', () => {
        const json = parseJson<InitJson>(initResult);
        expect(Object.keys(json).sort()).toEqual(['adminToken', 'home', 'store']);
        expect(json.home).toBe(home);
        expect(json.store).toBe(store === 'sqlite' ? storeUrl : database?.url);
        expect(json.adminToken).toMatch(/^rtk_[A-Za-z0-9]{12}_[A-Za-z0-9]{43}$/);
      });

      it('writes the master key file readable by its owner only (0600)', () => {
        expect(statSync(keyFile()).mode & 0o777).toBe(0o600);
        // base64 of 32 bytes, one line.
        expect(readFileSync(keyFile(), 'utf8')).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
        if (store === 'sqlite') expect(statSync(join(home, 'rotor.db')).mode & 0o777).toBe(0o600);
      });

      it('refuses a second init in the same home with one line and exit 1, keeping the key', async () => {
        const keyBefore = readFileSync(keyFile(), 'utf8');
        expectFailure(await rotor(['init', '--json']), 1, /already initialised/);
        expect(readFileSync(keyFile(), 'utf8')).toBe(keyBefore);
        // The existing store still opens with the existing key.
        expect(parseJson<unknown[]>(await rotor(['secret', 'list', '--json']))).toBeInstanceOf(
          Array,
        );
      });

      it('refuses to init the same store from another home, leaving no key file there', async () => {
        const otherHome = tempHome(`${store}-other`);
        try {
          const result = await runCli(['init', '--json'], {
            env: { ROTOR_HOME: otherHome, ROTOR_STORE: storeUrl },
          });
          expectFailure(result, 1, /already initialised/);
          expect(existsSync(join(otherHome, 'master.key'))).toBe(false);
        } finally {
          rmSync(otherHome, { recursive: true, force: true });
        }
      });

      if (store === 'sqlite')
        it('writes no key file when ROTOR_MASTER_KEY is given at init', async () => {
          const keyHome = tempHome('sqlite-envkey');
          try {
            const keyEnv = { ROTOR_HOME: keyHome, ROTOR_MASTER_KEY: newMasterKey() };
            const json = parseJson<InitJson>(await runCli(['init', '--json'], { env: keyEnv }));
            expect(json.store).toBe(`sqlite:${join(keyHome, 'rotor.db')}`);
            expect(existsSync(join(keyHome, 'master.key'))).toBe(false);
            expect(readdirSync(keyHome)).toContain('rotor.db');
            // The store works with that key, and without it nothing can be read.
            const created = await runCli(['secret', 'create', 'envkey/a', '--type', 'random'], {
              env: keyEnv,
            });
            expect(created).toMatchObject({ code: 0, stderr: '' });
            expectFailure(
              await runCli(['secret', 'get', 'envkey/a'], { env: { ROTOR_HOME: keyHome } }),
              1,
              /ROTOR_MASTER_KEY/,
            );
          } finally {
            rmSync(keyHome, { recursive: true, force: true });
          }
        });
    });

    describe.sequential('happy paths', () => {
      it('creates an api-key with --prefix and prints the exact JSON shape', async () => {
        const before = Date.now();
        const created = parseJson<CreatedJson>(
          await rotor([
            'secret',
            'create',
            'happy/api',
            '--type',
            'api-key',
            '--prefix',
            'rk_live_',
            '--json',
          ]),
        );
        expect(created).toEqual({
          name: 'happy/api',
          type: 'api-key',
          version: 1,
          config: { bytes: 32, encoding: 'base62', prefix: 'rk_live_' },
          policy: expect.objectContaining({
            schedule: '90d',
            grace: '1h',
            maxVersions: 10,
            manual: false,
          }),
          state: 'active',
          createdAt: expect.stringMatching(ISO_DATE),
          lastRotatedAt: null,
          nextRotationAt: expect.stringMatching(ISO_DATE),
          failureCount: 0,
        });
        const createdAt = Date.parse(created.createdAt);
        expect(createdAt).toBeGreaterThanOrEqual(before - 1_000);
        expect(createdAt).toBeLessThanOrEqual(Date.now() + 1_000);
        expect(
          Math.abs(Date.parse(created.nextRotationAt ?? '') - createdAt - 90 * DAY_MS),
        ).toBeLessThan(5_000);

        const [json, plain] = await Promise.all([
          rotor(['secret', 'get', 'happy/api', '--json']),
          rotor(['secret', 'get', 'happy/api']),
        ]);
        const read = parseJson<ReadJson>(json);
        expect(read).toEqual({
          name: 'happy/api',
          version: 1,
          stages: ['current'],
          // 32 bytes of entropy in base62 is 43 characters.
          value: expect.stringMatching(/^rk_live_[0-9A-Za-z]{43}$/),
          createdAt: created.createdAt,
        });
        expect(plain).toMatchObject({ code: 0, stderr: '', stdout: `${read.value}\n` });
      });

      it('creates a password of exactly --length 40 characters', async () => {
        const created = parseJson<CreatedJson>(
          await rotor([
            'secret',
            'create',
            'happy/pw',
            '--type',
            'password',
            '--length',
            '40',
            '--json',
          ]),
        );
        expect(created.config).toMatchObject({ length: 40 });
        const plain = await rotor(['secret', 'get', 'happy/pw']);
        expect(plain).toMatchObject({ code: 0, stderr: '' });
        expect(plain.stdout.endsWith('\n')).toBe(true);
        expect(plain.stdout.slice(0, -1)).toHaveLength(40);
        expect(plain.stdout.slice(0, -1)).not.toMatch(/\s/);
      });

      it('creates jwt-secret and random secrets, and takes policy flags', async () => {
        const [jwt, rnd, cron] = await Promise.all([
          rotor(['secret', 'create', 'happy/jwt', '--type', 'jwt-secret', '--json']),
          rotor([
            'secret',
            'create',
            'happy/random',
            '--type',
            'random',
            '--schedule',
            '12h',
            '--grace',
            '30m',
            '--max-versions',
            '3',
            '--manual',
            '--json',
          ]),
          rotor([
            'secret',
            'create',
            'happy/cron',
            '--type',
            'random',
            '--schedule',
            '0 3 * * 1',
            '--timezone',
            'Europe/Paris',
            '--json',
          ]),
        ]);
        expect(parseJson<CreatedJson>(jwt)).toMatchObject({ type: 'jwt-secret', version: 1 });
        expect(parseJson<CreatedJson>(rnd)).toMatchObject({
          type: 'random',
          policy: { schedule: '12h', grace: '30m', maxVersions: 3, manual: true },
          nextRotationAt: null,
        });
        const cronJson = parseJson<CreatedJson>(cron);
        expect(cronJson.policy).toMatchObject({
          schedule: '0 3 * * 1',
          timezone: 'Europe/Paris',
          grace: '1h',
          maxVersions: 10,
          manual: false,
        });
        const next = new Date(cronJson.nextRotationAt ?? '');
        const paris = new Intl.DateTimeFormat('en-GB', {
          timeZone: 'Europe/Paris',
          weekday: 'short',
          hour: '2-digit',
          minute: '2-digit',
          hourCycle: 'h23',
        }).format(next);
        expect(paris).toBe('Mon 03:00');
        expect(next.getTime() - Date.now()).toBeLessThanOrEqual(7 * DAY_MS);
      });

      it('creates from --value-stdin, dropping one trailing newline', async () => {
        const created = await rotor(
          ['secret', 'create', 'happy/given', '--type', 'random', '--value-stdin', '--json'],
          { stdin: 'given value\n' },
        );
        expect(parseJson<CreatedJson>(created).version).toBe(1);
        expect(await rotor(['secret', 'get', 'happy/given'])).toMatchObject({
          code: 0,
          stdout: 'given value\n',
          stderr: '',
        });
      });

      it('put makes a new current and the old one previous; history shows the stages', async () => {
        const name = 'happy/put';
        expect(
          await rotor(['secret', 'create', name, '--type', 'random', '--value-stdin'], {
            stdin: 'first-value',
          }),
        ).toMatchObject({ code: 0, stderr: '' });

        const put = parseJson<PutJson>(
          await rotor(['secret', 'put', name, '--value-stdin', '--json'], {
            stdin: 'second-value\n',
          }),
        );
        expect(put).toEqual({
          name,
          version: 2,
          stages: ['current'],
          state: 'active',
          createdAt: expect.stringMatching(ISO_DATE),
          graceUntil: null,
        });

        const [current, previous, pending] = await Promise.all([
          rotor(['secret', 'get', name]),
          rotor(['secret', 'get', name, '--stage', 'previous', '--json']),
          rotor(['secret', 'get', name, '--stage', 'pending']),
        ]);
        expect(current).toMatchObject({ code: 0, stdout: 'second-value\n', stderr: '' });
        expect(parseJson<ReadJson>(previous)).toEqual({
          name,
          version: 1,
          stages: ['previous'],
          value: 'first-value',
          createdAt: expect.stringMatching(ISO_DATE),
        });
        expectFailure(pending, 1, /pending/);

        // A third put deprecates version 1: no stage, value kept (within maxVersions).
        expect(
          await rotor(['secret', 'put', name, '--value-stdin'], { stdin: 'third-value' }),
        ).toMatchObject({ code: 0, stdout: `stored ${name} version 3 as current\n`, stderr: '' });
        const history = parseJson<VersionJson[]>(
          await rotor(['secret', 'history', name, '--json']),
        );
        expect(history).toEqual([
          {
            version: 3,
            stages: ['current'],
            state: 'active',
            createdAt: expect.stringMatching(ISO_DATE),
            graceUntil: null,
          },
          {
            version: 2,
            stages: ['previous'],
            state: 'active',
            createdAt: put.createdAt,
            graceUntil: expect.stringMatching(ISO_DATE),
          },
          {
            version: 1,
            stages: [],
            state: 'active',
            createdAt: expect.stringMatching(ISO_DATE),
            graceUntil: null,
          },
        ]);
      });

      it('get --version N reads that version, including a deprecated one', async () => {
        const name = 'happy/by-version';
        await rotor(['secret', 'create', name, '--type', 'random', '--value-stdin'], {
          stdin: 'v-one',
        });
        await rotor(['secret', 'put', name, '--value-stdin'], { stdin: 'v-two' });
        await rotor(['secret', 'put', name, '--value-stdin'], { stdin: 'v-three' });
        const [v1, v2, v3] = await Promise.all([
          rotor(['secret', 'get', name, '--version', '1']),
          rotor(['secret', 'get', name, '--version', '2', '--json']),
          rotor(['secret', 'get', name, '--version', '3']),
        ]);
        expect(v1).toMatchObject({ code: 0, stdout: 'v-one\n', stderr: '' });
        expect(parseJson<ReadJson>(v2)).toEqual({
          name,
          version: 2,
          stages: ['previous'],
          value: 'v-two',
          createdAt: expect.stringMatching(ISO_DATE),
        });
        expect(v3).toMatchObject({ code: 0, stdout: 'v-three\n', stderr: '' });
      });

      it('list --prefix filters, with the exact JSON shape', async () => {
        const created = await Promise.all(
          ['list/a/one', 'list/a/two', 'list/b/three'].map((name) =>
            rotor(['secret', 'create', name, '--type', 'random', '--json']),
          ),
        );
        const [one, two] = created.map((r) => parseJson<CreatedJson>(r));
        const filtered = parseJson<ListEntryJson[]>(
          await rotor(['secret', 'list', '--prefix', 'list/a/', '--json']),
        );
        expect(filtered).toEqual([
          {
            name: 'list/a/one',
            type: 'random',
            currentVersion: 1,
            state: 'active',
            createdAt: one?.createdAt,
            lastRotatedAt: null,
            nextRotationAt: one?.nextRotationAt,
            graceUntil: null,
            failureCount: 0,
          },
          {
            name: 'list/a/two',
            type: 'random',
            currentVersion: 1,
            state: 'active',
            createdAt: two?.createdAt,
            lastRotatedAt: null,
            nextRotationAt: two?.nextRotationAt,
            graceUntil: null,
            failureCount: 0,
          },
        ]);
        const all = parseJson<ListEntryJson[]>(await rotor(['secret', 'list', '--json']));
        const names = all.map((s) => s.name);
        expect(names).toEqual(expect.arrayContaining(['list/a/one', 'list/a/two', 'list/b/three']));
        expect(names).toEqual([...names].sort());
        const none = parseJson<ListEntryJson[]>(
          await rotor(['secret', 'list', '--prefix', 'list/zzz', '--json']),
        );
        expect(none).toEqual([]);
      });

      it('list and history never print a value', async () => {
        const name = 'novalue/s';
        const generatedName = 'novalue/generated';
        const values = ['novalue-first-7f3a9c', 'novalue-second-b81d2e'];
        const created = await Promise.all([
          rotor(['secret', 'create', name, '--type', 'random', '--value-stdin'], {
            stdin: values[0],
          }),
          rotor(['secret', 'create', generatedName, '--type', 'api-key', '--prefix', 'rk_live_']),
        ]);
        for (const result of created) expect(result).toMatchObject({ code: 0, stderr: '' });
        const [put, get] = await Promise.all([
          rotor(['secret', 'put', name, '--value-stdin'], { stdin: values[1] }),
          rotor(['secret', 'get', generatedName]),
        ]);
        expect(put).toMatchObject({ code: 0, stderr: '' });
        const generated = get.stdout.trim();
        const outputs = await Promise.all([
          rotor(['secret', 'list']),
          rotor(['secret', 'list', '--json']),
          rotor(['secret', 'history', name]),
          rotor(['secret', 'history', name, '--json']),
          rotor(['secret', 'history', generatedName, '--json']),
        ]);
        for (const output of outputs) {
          expect(output).toMatchObject({ code: 0, stderr: '' });
          expect(output.stdout).not.toBe('');
          for (const value of [...values, generated]) expect(output.stdout).not.toContain(value);
        }
        expect(generated).toMatch(/^rk_live_/);
      });

      it('--sinks publishes each new current version to a file at the next run, and [] stops it', async () => {
        const name = 'happy/sinked';
        const file = join(home, 'sinked.env');
        const sinks = JSON.stringify([{ type: 'file', path: file, format: 'env' }]);
        const created = parseJson<CreatedJson>(
          await rotor(['secret', 'create', name, '--type', 'random', '--sinks', sinks, '--json']),
        );
        expect(created.policy.sinks).toEqual([{ type: 'file', path: file, format: 'env' }]);
        expect(await rotor(['run', '--once'])).toMatchObject({ code: 0 });
        const first = (await rotor(['secret', 'get', name])).stdout.slice(0, -1);
        expect(readFileSync(file, 'utf8')).toBe(`ROTOR_SECRET_VALUE='${first}'\n`);
        expect(statSync(file).mode & 0o777).toBe(0o600);

        const cleared = parseJson<CreatedJson>(
          await rotor(['secret', 'update', name, '--sinks', '[]', '--json']),
        );
        expect(cleared.policy.sinks).toEqual([]);
        await rotor(['secret', 'put', name, '--value-stdin'], { stdin: 'second-value' });
        expect(await rotor(['run', '--once'])).toMatchObject({ code: 0 });
        expect(readFileSync(file, 'utf8')).toBe(`ROTOR_SECRET_VALUE='${first}'\n`);
      });

      it('delete --yes removes the secret; get then fails with "does not exist"', async () => {
        const name = 'happy/delete-me';
        expect(await rotor(['secret', 'create', name, '--type', 'random'])).toMatchObject({
          code: 0,
        });
        expect(await rotor(['secret', 'delete', name, '--yes'])).toEqual({
          code: 0,
          signal: null,
          stdout: `deleted ${name}\n`,
          stderr: '',
        });
        const [get, history, list] = await Promise.all([
          rotor(['secret', 'get', name]),
          rotor(['secret', 'history', name]),
          rotor(['secret', 'list', '--json']),
        ]);
        expectFailure(get, 1, /does not exist/);
        expectFailure(history, 1, /does not exist/);
        expect(parseJson<ListEntryJson[]>(list).map((s) => s.name)).not.toContain(name);
        // The name is free again, starting over at version 1.
        const again = parseJson<CreatedJson>(
          await rotor(['secret', 'create', name, '--type', 'random', '--json']),
        );
        expect(again.version).toBe(1);
      });
    });

    describe.sequential('bad input writes nothing', () => {
      const ref = 'bad/ref';
      let listBefore: string;
      let historyBefore: string;

      beforeAll(async () => {
        await rotor(['secret', 'create', ref, '--type', 'password', '--value-stdin'], {
          stdin: 'ref-one',
        });
        await rotor(['secret', 'put', ref, '--value-stdin'], { stdin: 'ref-two' });
        const [list, history] = await Promise.all([
          rotor(['secret', 'list', '--json']),
          rotor(['secret', 'history', ref, '--json']),
        ]);
        listBefore = list.stdout;
        historyBefore = history.stdout;
        expect(parseJson<VersionJson[]>(history)).toHaveLength(2);
      });

      const create = (name: string, ...more: string[]) => [
        'secret',
        'create',
        name,
        '--type',
        'random',
        ...more,
      ];

      interface BadCase {
        readonly title: string;
        readonly args: readonly string[];
        readonly stdin?: string;
        readonly code: 1 | 2;
        readonly mentions: readonly RegExp[];
      }

      const cases: readonly BadCase[] = [
        { title: 'name ../x', args: create('../x'), code: 1, mentions: [/name/, /"\.\.\/x"/] },
        { title: 'name "A B"', args: create('A B'), code: 1, mentions: [/name/, /"A B"/] },
        { title: 'empty name', args: create(''), code: 1, mentions: [/name/, /empty/] },
        {
          title: '300-character name',
          args: create('a'.repeat(300)),
          code: 1,
          mentions: [/name/, /300/],
        },
        { title: 'name trailing/', args: create('trailing/'), code: 1, mentions: [/name/, /"\/"/] },
        {
          title: 'get with an invalid name',
          args: ['secret', 'get', '../x'],
          code: 1,
          mentions: [/name/],
        },
        {
          title: 'put with an invalid name',
          args: ['secret', 'put', 'A B', '--value-stdin'],
          stdin: 'v',
          code: 1,
          mentions: [/name/],
        },
        {
          title: 'history with an invalid name',
          args: ['secret', 'history', 'trailing/'],
          code: 1,
          mentions: [/name/],
        },
        {
          title: 'delete with an invalid name',
          args: ['secret', 'delete', '../x', '--yes'],
          code: 1,
          mentions: [/name/],
        },
        {
          title: 'unknown type',
          args: ['secret', 'create', 'bad/new', '--type', 'nope'],
          code: 1,
          mentions: [/type/, /"nope"/, /api-key/],
        },
        {
          title: '--sinks that is not JSON',
          args: create('bad/new', '--sinks', '{nope'),
          code: 2,
          mentions: [/--sinks/, /expected a JSON list of sinks/],
        },
        {
          title: '--sinks with a relative file path',
          args: create('bad/new', '--sinks', '[{"type":"file","path":"out.env","format":"env"}]'),
          code: 1,
          mentions: [/sinks\.0\.path: expected an absolute file path/],
        },
        {
          title: 'update --sinks with an unknown sink type',
          args: ['secret', 'update', ref, '--sinks', '[{"type":"ftp"}]'],
          code: 1,
          mentions: [/sinks\.0\.type: expected a sink \{type: file \| exec \| webhook/, /"ftp"/],
        },
        {
          title: 'unknown flag',
          args: create('bad/new', '--bogus'),
          code: 2,
          mentions: [/unknown option/, /--bogus/],
        },
        {
          title: 'missing --type',
          args: ['secret', 'create', 'bad/new'],
          code: 2,
          mentions: [/--type/],
        },
        {
          title: 'get of a missing secret',
          args: ['secret', 'get', 'bad/missing'],
          code: 1,
          mentions: [/bad\/missing/, /does not exist/],
        },
        {
          title: 'put of a missing secret',
          args: ['secret', 'put', 'bad/missing', '--value-stdin'],
          stdin: 'v',
          code: 1,
          mentions: [/bad\/missing/, /does not exist/],
        },
        {
          title: 'history of a missing secret',
          args: ['secret', 'history', 'bad/missing'],
          code: 1,
          mentions: [/bad\/missing/, /does not exist/],
        },
        {
          title: 'delete of a missing secret',
          args: ['secret', 'delete', 'bad/missing', '--yes'],
          code: 1,
          mentions: [/bad\/missing/, /does not exist/],
        },
        {
          title: 'create of an existing secret',
          args: ['secret', 'create', ref, '--type', 'random'],
          code: 1,
          mentions: [/already exists/],
        },
        {
          title: 'non-JSON --config',
          args: create('bad/new', '--config', '{bad'),
          code: 1,
          mentions: [/config/, /JSON/],
        },
        {
          title: '--config that is not an object',
          args: create('bad/new', '--config', '[1]'),
          code: 1,
          mentions: [/config/, /object/],
        },
        {
          title: 'password --config with length 3',
          args: ['secret', 'create', 'bad/new', '--type', 'password', '--config', '{"length": 3}'],
          code: 1,
          mentions: [/config/, /length/, /8/],
        },
        {
          title: '--config with an unknown field',
          args: create('bad/new', '--config', '{"nope":1}'),
          code: 1,
          mentions: [/config/, /unknown field/, /"nope"/],
        },
        {
          title: '--schedule that is not a schedule',
          args: create('bad/new', '--schedule', 'not a schedule'),
          code: 1,
          mentions: [/schedule/],
        },
        {
          title: '--grace 5x',
          args: create('bad/new', '--grace', '5x'),
          code: 1,
          mentions: [/grace/, /duration/],
        },
        {
          title: 'unknown --timezone',
          args: create('bad/new', '--schedule', '0 3 * * *', '--timezone', 'Mars/Olympus'),
          code: 1,
          mentions: [/time ?zone/i],
        },
        {
          title: '--length 0',
          args: create('bad/new', '--length', '0'),
          code: 2,
          mentions: [/--length/],
        },
        {
          title: '--max-versions 1',
          args: create('bad/new', '--max-versions', '1'),
          code: 2,
          mentions: [/--max-versions/],
        },
        {
          title: '--prefix on a non-api-key type',
          args: create('bad/new', '--prefix', 'rk_'),
          code: 2,
          mentions: [/--prefix/, /api-key/],
        },
        {
          title: 'get --stage bogus',
          args: ['secret', 'get', ref, '--stage', 'bogus'],
          code: 2,
          mentions: [/stage/, /bogus/],
        },
        {
          title: 'get --version 0',
          args: ['secret', 'get', ref, '--version', '0'],
          code: 2,
          mentions: [/version/],
        },
        {
          title: 'get --version of a version that does not exist',
          args: ['secret', 'get', ref, '--version', '99'],
          code: 1,
          mentions: [/99/],
        },
        {
          title: 'get with both --stage and --version',
          args: ['secret', 'get', ref, '--stage', 'current', '--version', '1'],
          code: 2,
          mentions: [/--stage/, /--version/],
        },
        {
          title: 'put with empty stdin',
          args: ['secret', 'put', ref, '--value-stdin'],
          stdin: '',
          code: 1,
          mentions: [/value/, /empty/],
        },
        {
          title: 'put without --value-stdin',
          args: ['secret', 'put', ref],
          stdin: 'x',
          code: 2,
          mentions: [/--value-stdin/],
        },
        {
          title: 'delete without --yes and without a terminal',
          args: ['secret', 'delete', ref],
          code: 2,
          mentions: [/--yes/],
        },
      ];

      it.each(cases)('$title: exit $code', async ({ args, stdin, code, mentions }) => {
        await expectRejectedWithoutWrites(args, { stdin }, code, ...mentions);
      });

      it('an uninitialised home: every secret command exits 1 naming `rotor init`, creating nothing', async () => {
        const emptyHome = tempHome(`${store}-uninit`);
        const emptyDb = store === 'postgres' ? await createTestDatabase('cli_uninit') : undefined;
        try {
          const commands: Array<{ args: string[]; stdin?: string }> = [
            { args: ['secret', 'create', 'u/x', '--type', 'random'] },
            { args: ['secret', 'get', 'u/x'] },
            { args: ['secret', 'put', 'u/x', '--value-stdin'], stdin: 'v' },
            { args: ['secret', 'list', '--json'] },
            { args: ['secret', 'history', 'u/x'] },
            { args: ['secret', 'delete', 'u/x', '--yes'] },
          ];
          const base: Env = {
            ROTOR_HOME: emptyHome,
            ...(emptyDb ? { ROTOR_STORE: emptyDb.url } : {}),
          };
          // Without a key, and with a valid key in ROTOR_MASTER_KEY (so the store itself is looked at).
          for (const extra of [{}, { ROTOR_MASTER_KEY: newMasterKey() }]) {
            const results = await Promise.all(
              commands.map(({ args, stdin }) =>
                runCli(args, { env: { ...base, ...extra }, stdin }),
              ),
            );
            for (const result of results) expectFailure(result, 1, /`rotor init`/);
          }
          expect(readdirSync(emptyHome)).toEqual([]);
          if (emptyDb) expect(await tableNames(emptyDb.url)).toEqual([]);
        } finally {
          rmSync(emptyHome, { recursive: true, force: true });
          await emptyDb?.drop();
        }
      });

      if (store === 'sqlite')
        it('a home that does not exist is reported as not initialised and is not created', async () => {
          const parent = tempHome('sqlite-nohome');
          const missing = join(parent, 'missing');
          try {
            const results = await Promise.all([
              runCli(['secret', 'list'], { env: { ROTOR_HOME: missing } }),
              runCli(['secret', 'create', 'u/x', '--type', 'random'], {
                env: { ROTOR_HOME: missing, ROTOR_MASTER_KEY: newMasterKey() },
              }),
            ]);
            for (const result of results)
              expectFailure(result, 1, /not initialised/, /`rotor init`/);
            expect(readdirSync(parent)).toEqual([]);
          } finally {
            rmSync(parent, { recursive: true, force: true });
          }
        });

      describe.sequential('master key', () => {
        it('a wrong ROTOR_MASTER_KEY is refused with one line naming the master key', async () => {
          const wrong = { ROTOR_MASTER_KEY: newMasterKey() };
          const before = await snapshotStore();
          const results = await Promise.all([
            rotor(['secret', 'get', ref], { env: wrong }),
            rotor(['secret', 'list'], { env: wrong }),
            rotor(['secret', 'put', ref, '--value-stdin'], { env: wrong, stdin: 'sneaky' }),
            rotor(['secret', 'create', 'bad/new', '--type', 'random'], { env: wrong }),
          ]);
          for (const result of results) {
            expectFailure(result, 1, /master key/, /ROTOR_MASTER_KEY/, /not the one/);
          }
          expect(await snapshotStore()).toEqual(before);
        });

        it('a malformed ROTOR_MASTER_KEY is refused as not base64 of 32 bytes', async () => {
          const before = await snapshotStore();
          const results = await Promise.all([
            rotor(['secret', 'get', ref], { env: { ROTOR_MASTER_KEY: 'abc' } }),
            rotor(['secret', 'put', ref, '--value-stdin'], {
              env: { ROTOR_MASTER_KEY: 'abc' },
              stdin: 'sneaky',
            }),
            // Valid base64, wrong length.
            rotor(['secret', 'list'], {
              env: { ROTOR_MASTER_KEY: randomBytes(16).toString('base64') },
            }),
          ]);
          for (const result of results) {
            expectFailure(result, 1, /ROTOR_MASTER_KEY/, /base64 of (exactly )?32 bytes/);
          }
          expect(await snapshotStore()).toEqual(before);
        });

        it('the key file content given as ROTOR_MASTER_KEY opens the store', async () => {
          const key = readFileSync(keyFile(), 'utf8').trim();
          const result = await rotor(['secret', 'get', ref], { env: { ROTOR_MASTER_KEY: key } });
          expect(result).toMatchObject({ code: 0, stdout: 'ref-two\n', stderr: '' });
        });

        it('a missing key file is refused with one line naming ROTOR_MASTER_KEY', async () => {
          const away = `${keyFile()}.away`;
          const before = await snapshotStore();
          renameSync(keyFile(), away);
          try {
            const results = await Promise.all([
              rotor(['secret', 'get', ref]),
              rotor(['secret', 'list']),
              rotor(['secret', 'put', ref, '--value-stdin'], { stdin: 'sneaky' }),
            ]);
            for (const result of results)
              expectFailure(result, 1, /ROTOR_MASTER_KEY/, /master key/);
            expect(existsSync(keyFile())).toBe(false);
          } finally {
            renameSync(away, keyFile());
          }
          expect(await snapshotStore()).toEqual(before);
        });
      });

      it('list --json and history --json print exactly what they printed before the rejected commands', async () => {
        const [list, history] = await Promise.all([
          rotor(['secret', 'list', '--json']),
          rotor(['secret', 'history', ref, '--json']),
        ]);
        expect(list).toMatchObject({ code: 0, stdout: listBefore, stderr: '' });
        expect(history).toMatchObject({ code: 0, stdout: historyBefore, stderr: '' });
      });
    });

    describe.sequential('two processes', () => {
      it('concurrent put loops give versions 1..17, no gaps, one current, one previous', async () => {
        const name = 'race/s';
        expect(await rotor(['secret', 'create', name, '--type', 'random'])).toMatchObject({
          code: 0,
          stderr: '',
        });
        const loop = async (who: string) => {
          const results: Array<{ value: string; result: CliResult }> = [];
          for (let i = 0; i < 8; i++) {
            const value = `${who}-${i}`;
            results.push({
              value,
              result: await rotor(['secret', 'put', name, '--value-stdin', '--json'], {
                stdin: value,
              }),
            });
          }
          return results;
        };
        const puts = (await Promise.all([loop('a'), loop('b')])).flat();
        const byVersion = new Map<number, string>();
        for (const { value, result } of puts) {
          byVersion.set(parseJson<PutJson>(result).version, value);
        }
        // Each put got its own number.
        expect([...byVersion.keys()].sort((x, y) => x - y)).toEqual(
          Array.from({ length: 16 }, (_, i) => i + 2),
        );
        // Each loop's own puts are ordered.
        for (const who of ['a', 'b']) {
          const mine = puts
            .filter((p) => p.value.startsWith(`${who}-`))
            .map((p) => parseJson<PutJson>(p.result).version);
          expect(mine).toEqual([...mine].sort((x, y) => x - y));
        }

        const [historyResult, current, previous] = await Promise.all([
          rotor(['secret', 'history', name, '--json']),
          rotor(['secret', 'get', name, '--json']),
          rotor(['secret', 'get', name, '--stage', 'previous', '--json']),
        ]);
        const history = parseJson<VersionJson[]>(historyResult);
        expect(history.map((v) => v.version)).toEqual(Array.from({ length: 17 }, (_, i) => 17 - i));
        expect(history.filter((v) => v.stages.includes('current')).map((v) => v.version)).toEqual([
          17,
        ]);
        expect(history.filter((v) => v.stages.includes('previous')).map((v) => v.version)).toEqual([
          16,
        ]);
        expect(history.every((v) => v.stages.length <= 1)).toBe(true);
        // maxVersions 10 (default): the 10 newest keep their value, older ones are destroyed.
        expect(history.filter((v) => v.state === 'active').map((v) => v.version)).toEqual(
          Array.from({ length: 10 }, (_, i) => 17 - i),
        );
        expect(parseJson<ReadJson>(current)).toMatchObject({
          version: 17,
          value: byVersion.get(17),
        });
        expect(parseJson<ReadJson>(previous)).toMatchObject({
          version: 16,
          value: byVersion.get(16),
        });
      });
    });
  },
);
