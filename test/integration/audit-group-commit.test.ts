import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../src/core/policy.js';
import { SecretValue } from '../../src/core/secret-value.js';
import { sealValue } from '../../src/crypto/envelope.js';
import { verifyAudit } from '../../src/service/audit-service.js';
import type { Store } from '../../src/store/store.js';
import {
  createStoreLocation,
  STORE_DIALECTS,
  type StoreLocation,
  testKeyring,
} from '../support/test-stores.js';

/**
 * Reads and API requests are audited by group commit: concurrent callers
 * share one transaction, each is answered only once its event is committed,
 * a caller whose read fails fails alone, and a batch that cannot commit fails
 * every caller in it. The hash chain stays intact throughout.
 */

const keyring = testKeyring();
const READ = { actor: 'test', action: 'secret.read' };

describe.each(STORE_DIALECTS)('audit group commit on %s', (dialect) => {
  let location: StoreLocation;
  let store: Store;
  // Every call moves the clock by 1 ms, so events sharing a time were appended together.
  let tick = Date.parse('2026-06-01T00:00:00Z');
  const now = () => new Date(tick++);

  async function auditCount(): Promise<number> {
    const [row] = await location.query<{ n: number | string }>(
      'select count(*) as n from audit_events',
    );
    return Number(row?.n);
  }

  beforeAll(async () => {
    location = await createStoreLocation(dialect, 'group-commit');
    store = await location.open(now);
    await store.createSecret(
      {
        name: 'grouped/app',
        type: 'api-key',
        config: {},
        policy: defaultPolicy('api-key'),
        nextRotationAt: null,
      },
      (version) =>
        sealValue(
          SecretValue.fromString('grouped value'),
          { secret: 'grouped/app', version },
          keyring.current,
        ),
      { actor: 'test', action: 'secret.create' },
    );
  });

  afterAll(async () => {
    await store?.close();
    await location?.destroy();
  });

  it('appends concurrent reads and requests in one transaction, each committed before it is answered', async () => {
    const before = await auditCount();
    const reads = Array.from({ length: 60 }, () =>
      store.readVersion('grouped/app', { stage: 'current' }, READ),
    );
    // 87 events: SQLite inserts them in chunks of 64, 16, 4 and 1 rows, each size used here.
    const requests = Array.from({ length: 27 }, (_, i) =>
      store.recordAudit({ actor: 'test', action: 'api.request', details: { i } }, null),
    );
    const answered = await Promise.all(reads);
    // Once answered, the events are visible to any other connection.
    expect(await auditCount()).toBe(before + 87);
    await Promise.all(requests);
    expect(answered.every((r) => r.version.number === 1)).toBe(true);

    const events = await store.auditEvents({ afterSeq: before });
    expect(events.map((e) => e.action)).toEqual([
      ...Array(60).fill('secret.read'),
      ...Array(27).fill('api.request'),
    ]);
    expect(events.slice(60).map((e) => JSON.parse(e.details).i)).toEqual(
      Array.from({ length: 27 }, (_, i) => i),
    );
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => before + 1 + i));
    expect(events.filter((e) => e.action === 'secret.read').every((e) => e.version === 1)).toBe(
      true,
    );
    expect(new Set(events.map((e) => e.at)).size).toBe(1);
    expect(await verifyAudit(store)).toMatchObject({ intact: true });
  });

  it('fails only the caller whose read fails, and records no event for it', async () => {
    const before = await auditCount();
    const results = await Promise.allSettled([
      store.readVersion('grouped/app', { stage: 'current' }, READ),
      store.readVersion('grouped/app', { stage: 'pending' }, READ),
      store.readVersion('grouped/app', { version: 7 }, READ),
      store.readVersion('grouped/missing', { stage: 'current' }, READ),
      store.readVersion('grouped/app', { version: 1 }, READ),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect(results.map((r) => (r.status === 'rejected' ? r.reason.code : null))).toEqual([
      null,
      'ERR_VERSION_NOT_FOUND',
      'ERR_VERSION_NOT_FOUND',
      'ERR_SECRET_NOT_FOUND',
      null,
    ]);
    expect(await auditCount()).toBe(before + 2);
    expect(await verifyAudit(store)).toMatchObject({ intact: true });
  });

  it('fails every caller of a batch that cannot commit, and serves nothing from it', async () => {
    const [head] = await location.query<{ seq: number | string; hash: string }>(
      'select seq, hash from audit_head where id = 1',
    );
    const before = await auditCount();
    await location.query('delete from audit_head where id = 1');
    try {
      const results = await Promise.allSettled([
        store.readVersion('grouped/app', { stage: 'current' }, READ),
        store.readVersion('grouped/app', { stage: 'current' }, READ),
        store.recordAudit({ actor: 'test', action: 'api.request' }, 'grouped/app'),
      ]);
      expect(results.map((r) => (r.status === 'rejected' ? r.reason.code : r.status))).toEqual([
        'ERR_STORE',
        'ERR_STORE',
        'ERR_STORE',
      ]);
      expect(await auditCount()).toBe(before);
    } finally {
      await location.query('insert into audit_head (id, seq, hash) values (1, ?, ?)', [
        Number(head?.seq),
        head?.hash,
      ]);
    }
    await store.readVersion('grouped/app', { stage: 'current' }, READ);
    expect(await auditCount()).toBe(before + 1);
    expect(await verifyAudit(store)).toMatchObject({ intact: true });
  });

  it('answers the reads still queued when the store closes', async () => {
    const other = await location.open();
    const before = await auditCount();
    const read = other.readVersion('grouped/app', { stage: 'current' }, READ);
    await other.close();
    await expect(read).resolves.toMatchObject({ version: { number: 1 } });
    expect(await auditCount()).toBe(before + 1);
  });
});
