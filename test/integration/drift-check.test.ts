import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/engine/alerter.js';
import { checkDrift } from '../../src/engine/drift-check.js';
import { SecretService } from '../../src/service/secret-service.js';
import type { Store } from '../../src/store/store.js';
import { createStoreLocation, type StoreLocation, testKeyring } from '../support/test-stores.js';
import { WebhookTarget } from '../support/webhook-target.js';

describe('drift check', () => {
  const keyring = testKeyring();
  let location: StoreLocation;
  let store: Store;
  let secrets: SecretService;
  let target: WebhookTarget;
  const alerts: Alert[] = [];
  const alerter = { alert: async (a: Alert) => void alerts.push(a) };

  beforeAll(async () => {
    location = await createStoreLocation('sqlite', 'drift');
    store = await location.open();
    secrets = new SecretService(store, keyring);
    target = new WebhookTarget();
    await target.start();
    await secrets.create(
      { name: 'drift/hooked', type: 'api-key', config: { webhook: { url: target.url } } },
      'test',
    );
    await secrets.create({ name: 'drift/plain', type: 'password' }, 'test');
    target.accepted.add(
      (await secrets.reveal('drift/hooked', { stage: 'current' }, 'test')).value.reveal(),
    );
  });

  afterAll(async () => {
    await target?.stop();
    await store?.close();
    await location?.destroy();
  });

  it('reports accepted values, and secrets without a target as such', async () => {
    const results = await checkDrift(store, keyring, alerter, [], 'test');
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ['drift/hooked', 'accepted'],
      ['drift/plain', 'no-target'],
    ]);
    expect(alerts).toEqual([]);
  });

  it("finds a value the target stopped accepting behind Rotor's back, and alerts", async () => {
    const current = (
      await secrets.reveal('drift/hooked', { stage: 'current' }, 'test')
    ).value.reveal();
    target.accepted.delete(current);
    const [result] = await checkDrift(store, keyring, alerter, ['drift/hooked'], 'test');
    expect(result).toMatchObject({ status: 'rejected', version: 1 });
    expect(result?.message).not.toContain(current);
    expect(alerts.at(-1)).toMatchObject({ secret: 'drift/hooked', step: 'check' });
    target.accepted.add(current);
  });

  it('tells an unreachable target from a rejected value', async () => {
    await target.stop();
    const [result] = await checkDrift(store, keyring, alerter, ['drift/hooked'], 'test');
    expect(result?.status).toBe('unreachable');
    await target.start();
  });
});
