import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../src/core/policy.js';
import { SecretValue } from '../../src/core/secret-value.js';
import { openValue, sealValue } from '../../src/crypto/envelope.js';
import type { Sealer, Store } from '../../src/store/store.js';
import {
  createStoreLocation,
  STORE_DIALECTS,
  type StoreLocation,
  testKeyring,
} from '../support/test-stores.js';

const keyring = testKeyring();
const actor = { actor: 'test', action: 'test.op' };
const hourFromNow = () => new Date(Date.now() + 3_600_000);

function sealer(name: string, value: string): Sealer {
  return (version) =>
    sealValue(SecretValue.fromString(value), { secret: name, version }, keyring.current);
}

async function createSecret(store: Store, name: string, value = `v1-of-${name}`) {
  return store.createSecret(
    {
      name,
      type: 'api-key',
      config: {},
      policy: defaultPolicy('api-key'),
      nextRotationAt: hourFromNow(),
    },
    sealer(name, value),
    { actor: 'test', action: 'secret.create' },
  );
}

async function put(store: Store, name: string, value: string, maxVersions = 10) {
  return store.putVersion(
    name,
    sealer(name, value),
    { graceUntil: hourFromNow(), maxVersions },
    actor,
  );
}

async function readValue(
  store: Store,
  name: string,
  selector: Parameters<Store['readVersion']>[1],
) {
  const { version, sealed } = await store.readVersion(name, selector, {
    actor: 'test',
    action: 'secret.read',
  });
  return openValue(sealed, { secret: name, version: version.number }, keyring).reveal();
}

describe.each(STORE_DIALECTS)('store on %s', (dialect) => {
  let location: StoreLocation;
  let store: Store;

  beforeAll(async () => {
    location = await createStoreLocation(dialect, 'store');
    store = await location.open();
  });

  afterAll(async () => {
    await store?.close();
    await location?.destroy();
  });

  it('creates a secret whose first version is current', async () => {
    const created = await createSecret(store, 'app/create', 'first');
    expect(created).toMatchObject({
      name: 'app/create',
      type: 'api-key',
      lastVersion: 1,
      state: 'active',
    });
    const versions = await store.listVersions('app/create');
    expect(versions.map((v) => [v.number, v.stage, v.state])).toEqual([[1, 'current', 'active']]);
    expect(await readValue(store, 'app/create', { stage: 'current' })).toBe('first');
  });

  it('refuses a second secret with the same name and records nothing for it', async () => {
    await createSecret(store, 'app/dup', 'one');
    const before = await location.query('select count(*) as n from audit_events');
    await expect(createSecret(store, 'app/dup', 'two')).rejects.toMatchObject({
      code: 'ERR_SECRET_EXISTS',
    });
    expect(await location.query('select count(*) as n from audit_events')).toEqual(before);
    expect(await readValue(store, 'app/dup', { stage: 'current' })).toBe('one');
  });

  it('moves stages on put: new current, old current previous, older deprecated', async () => {
    await createSecret(store, 'app/stages', 'a');
    await put(store, 'app/stages', 'b');
    await put(store, 'app/stages', 'c');
    const versions = await store.listVersions('app/stages');
    expect(versions.map((v) => [v.number, v.stage])).toEqual([
      [3, 'current'],
      [2, 'previous'],
      [1, null],
    ]);
    expect(versions[1]?.graceUntil).toBeInstanceOf(Date);
    expect(await readValue(store, 'app/stages', { stage: 'previous' })).toBe('b');
    expect(await readValue(store, 'app/stages', { version: 1 })).toBe('a');
  });

  it('enforces one version per stage in the database itself', async () => {
    await createSecret(store, 'app/unique', 'a');
    await put(store, 'app/unique', 'b');
    const [row] = await location.query<{ id: number }>('select id from secrets where name = ?', [
      'app/unique',
    ]);
    await expect(
      location.query("update versions set stage = 'current' where secret_id = ? and number = 1", [
        row?.id,
      ]),
    ).rejects.toThrow(/unique/i);
    const duplicateNumber = location.query(
      "insert into versions (secret_id, number, stage, state, created_at) values (?, 2, null, 'active', 0)",
      [row?.id],
    );
    await expect(duplicateNumber).rejects.toThrow(/unique/i);
  });

  it('refuses a put while a pending version exists', async () => {
    await createSecret(store, 'app/pending', 'a');
    const [row] = await location.query<{ id: number }>('select id from secrets where name = ?', [
      'app/pending',
    ]);
    await location.query(
      "update versions set stage = 'pending' where secret_id = ? and number = 1",
      [row?.id],
    );
    await expect(put(store, 'app/pending', 'b')).rejects.toMatchObject({
      code: 'ERR_ROTATION_IN_PROGRESS',
    });
    expect((await store.listVersions('app/pending')).map((v) => v.number)).toEqual([1]);
  });

  it('destroys values beyond maxVersions but keeps their metadata', async () => {
    await createSecret(store, 'app/trim', 'v1');
    for (const value of ['v2', 'v3', 'v4', 'v5']) await put(store, 'app/trim', value, 3);
    const versions = await store.listVersions('app/trim');
    expect(versions.map((v) => [v.number, v.stage, v.state])).toEqual([
      [5, 'current', 'active'],
      [4, 'previous', 'active'],
      [3, null, 'active'],
      [2, null, 'destroyed'],
      [1, null, 'destroyed'],
    ]);
    await expect(readValue(store, 'app/trim', { version: 1 })).rejects.toMatchObject({
      code: 'ERR_VERSION_DESTROYED',
    });
    const [raw] = await location.query<{ n: number }>(
      'select count(*) as n from versions v join secrets s on s.id = v.secret_id where s.name = ? and v.ciphertext is not null',
      ['app/trim'],
    );
    expect(Number(raw?.n)).toBe(3);
  });

  it('numbers versions without gaps or duplicates under concurrent writers on two connections', async () => {
    const other = await location.open();
    try {
      await createSecret(store, 'app/race', 'v1');
      const writes = Array.from({ length: 20 }, (_, i) =>
        put(i % 2 ? store : other, 'app/race', `w${i}`),
      );
      const results = await Promise.all(writes);
      expect(new Set(results.map((v) => v.number)).size).toBe(20);
      const versions = await store.listVersions('app/race');
      expect(versions.map((v) => v.number)).toEqual(Array.from({ length: 21 }, (_, i) => 21 - i));
      expect(versions.filter((v) => v.stage === 'current')).toHaveLength(1);
      expect(versions.filter((v) => v.stage === 'previous')).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('sees from a second connection what the first one wrote', async () => {
    await createSecret(store, 'app/shared', 'visible');
    const other = await location.open();
    try {
      expect(await readValue(other, 'app/shared', { stage: 'current' })).toBe('visible');
      expect((await other.listSecrets('app/shared')).map((s) => s.name)).toEqual(['app/shared']);
    } finally {
      await other.close();
    }
  });

  it('fails to decrypt a ciphertext copied onto another row', async () => {
    await createSecret(store, 'app/source', 'source-value');
    await createSecret(store, 'app/target', 'target-value');
    await location.query(
      `update versions set ciphertext = (select v.ciphertext from versions v join secrets s on s.id = v.secret_id where s.name = 'app/source'),
         wrapped_key = (select v.wrapped_key from versions v join secrets s on s.id = v.secret_id where s.name = 'app/source')
       where secret_id = (select id from secrets where name = 'app/target')`,
    );
    await expect(readValue(store, 'app/target', { stage: 'current' })).rejects.toMatchObject({
      code: 'ERR_DECRYPT',
      message: expect.stringMatching(/app\/target version 1.*authentication failed/),
    });
  });

  it('lists by prefix with the current version, and deletes with every version', async () => {
    await createSecret(store, 'list/a', 'x');
    await createSecret(store, 'list/b', 'y');
    await put(store, 'list/b', 'y2');
    await createSecret(store, 'listing/c', 'z');
    const listed = await store.listSecrets('list/');
    expect(listed.map((s) => [s.name, s.currentVersion])).toEqual([
      ['list/a', 1],
      ['list/b', 2],
    ]);
    await store.deleteSecret('list/b', actor);
    expect(await store.getSecret('list/b')).toBeUndefined();
    const orphans = await location.query<{ n: number }>(
      'select count(*) as n from versions where secret_id not in (select id from secrets)',
    );
    expect(Number(orphans[0]?.n)).toBe(0);
    await expect(store.deleteSecret('list/b', actor)).rejects.toMatchObject({
      code: 'ERR_SECRET_NOT_FOUND',
    });
  });

  it('writes one chained audit event per change and per read', async () => {
    const [before] = await location.query<{ n: number }>('select count(*) as n from audit_events');
    await createSecret(store, 'app/audited', 'a');
    await put(store, 'app/audited', 'b');
    await readValue(store, 'app/audited', { stage: 'current' });
    const events = await location.query<{
      seq: number;
      action: string;
      version: number;
      prev_hash: string;
      hash: string;
    }>(
      'select seq, action, version, prev_hash, hash from audit_events where seq > ? order by seq',
      [Number(before?.n)],
    );
    expect(events.map((e) => [e.action, Number(e.version)])).toEqual([
      ['secret.create', 1],
      ['test.op', 2],
      ['secret.read', 2],
    ]);
    for (let i = 1; i < events.length; i++) expect(events[i]?.prev_hash).toBe(events[i - 1]?.hash);
  });

  it('keeps no stored value in plaintext anywhere in the database', async () => {
    const values = ['plain-needle-7c1e9a', 'plain-needle-42f0bb', 'plain-needle-e5d3c1'];
    await createSecret(store, 'app/needles', values[0]);
    await put(store, 'app/needles', values[1] as string);
    await put(store, 'app/needles', values[2] as string);
    const haystack = await dumpEverything(location);
    for (const value of values) {
      expect(haystack.includes(value)).toBe(false);
      expect(haystack.includes(Buffer.from(value).toString('hex'))).toBe(false);
    }
    // The dump is real: it does contain the names and types that are stored in clear.
    expect(haystack.includes('app/needles')).toBe(true);
  });
});

/** Every byte Rotor stored: the raw SQLite files, or every row of every table in PostgreSQL as text. */
async function dumpEverything(location: StoreLocation): Promise<string> {
  if (location.dialect === 'sqlite') {
    const { readFileSync, existsSync } = await import('node:fs');
    const path = location.url.slice('sqlite:'.length);
    return [path, `${path}-wal`]
      .filter((p) => existsSync(p))
      .map((p) => readFileSync(p).toString('latin1'))
      .join('\n');
  }
  const tables = await location.query<{ tablename: string }>(
    "select tablename from pg_tables where schemaname = 'public'",
  );
  const parts: string[] = [];
  for (const { tablename } of tables) {
    const rows = await location.query<{ row: string }>(
      `select t::text as row from "${tablename}" t`,
    );
    parts.push(...rows.map((r) => r.row));
  }
  return parts.join('\n');
}
