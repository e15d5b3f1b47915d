import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { createStoreLocation, STORE_DIALECTS, type StoreLocation } from '../support/test-stores.js';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const SECRETS = 20_000;
const DUE = 50;

/** The scheduler's due query, as the store issues it (see KyselyRotationStore.dueSecrets). */
const DUE_SQL =
  'select name, next_rotation_at from secrets where next_rotation_at is not null and next_rotation_at <= ? order by next_rotation_at, name limit 100';

describe.each(STORE_DIALECTS)('finding due work on %s', (dialect) => {
  let location: StoreLocation;
  let store: Store;

  beforeAll(async () => {
    location = await createStoreLocation(dialect, 'due');
    store = await location.open();
    const names = Array.from({ length: SECRETS }, (_, i) => `due/s${i}`);
    const times = names.map((_, i) => (i < DUE ? NOW - 1_000 - i : NOW + 60_000 + i * 1_000));
    if (dialect === 'postgres') {
      await location.query(
        "insert into secrets (name, type, config, policy, state, last_version, next_rotation_at, created_at, updated_at) select n, 'api-key', '{}', '{}', 'active', 1, t, 0, 0 from unnest(?::text[], ?::bigint[]) as u(n, t)",
        [names, times],
      );
      await location.query('analyze secrets');
    } else {
      await location.query(
        "with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < ?) insert into secrets (name, type, config, policy, state, last_version, next_rotation_at, created_at, updated_at) select 'due/s' || i, 'api-key', '{}', '{}', 'active', 1, case when i < ? then ? - 1000 - i else ? + 60000 + i * 1000 end, 0, 0 from n",
        [SECRETS, DUE, NOW, NOW],
      );
      await location.query('analyze');
    }
  });

  afterAll(async () => {
    await store?.close();
    await location?.destroy();
  });

  it('returns exactly the due secrets, oldest first, and pages through them', async () => {
    const first = await store.rotations.dueSecrets(new Date(NOW), 30);
    expect(first).toHaveLength(30);
    expect(first[0]?.name).toBe(`due/s${DUE - 1}`);
    const rest = await store.rotations.dueSecrets(new Date(NOW), 30, first.at(-1));
    expect(rest).toHaveLength(DUE - 30);
    expect(new Set([...first, ...rest].map((d) => d.name)).size).toBe(DUE);
  });

  it('uses the due index instead of scanning every secret', async () => {
    const plan =
      dialect === 'postgres'
        ? (await location.query<{ 'QUERY PLAN': string }>(`explain ${DUE_SQL}`, [NOW])).map(
            (r) => r['QUERY PLAN'],
          )
        : (await location.query<{ detail: string }>(`explain query plan ${DUE_SQL}`, [NOW])).map(
            (r) => r.detail,
          );
    const text = plan.join('\n');
    expect(text).toContain('secrets_due');
    expect(text).not.toMatch(/Seq Scan on secrets|SCAN secrets(?! USING)/);
  });
});
