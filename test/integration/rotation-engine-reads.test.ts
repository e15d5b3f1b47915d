import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/core/secret-value.js';
import { MasterKeyring } from '../../src/crypto/master-keyring.js';
import { RotationEngine } from '../../src/engine/rotation-engine.js';
import { newPassword } from '../../src/rotators/credential.js';
import { SecretService } from '../../src/service/secret-service.js';
import type { Store } from '../../src/store/store.js';
import { createStoreLocation, type StoreLocation } from '../support/test-stores.js';

const HOST = '127.0.0.1';
const PORT = 6379;
const ADMIN = 'test/redis-admin';
const SECRET = 'test/redis-app';
const user = `rotor_reads_${process.pid}_${randomBytes(3).toString('hex')}`;

let redis: Redis;
let location: StoreLocation;
let store: Store;
let secrets: SecretService;
let engine: RotationEngine;

const json = (value: unknown) => SecretValue.fromString(JSON.stringify(value));

beforeAll(async () => {
  redis = new Redis({ host: HOST, port: PORT, lazyConnect: true });
  await redis.connect();
  const password = newPassword();
  await redis.call('ACL', 'SETUSER', user, 'on', `>${password}`, '+ping');
  location = await createStoreLocation('sqlite', 'engine-reads');
  store = await location.open();
  const keyring = new MasterKeyring([{ version: 1, key: randomBytes(32) }]);
  secrets = new SecretService(store, keyring);
  engine = new RotationEngine({
    store,
    keyring,
    owner: `test:${process.pid}`,
    alerter: { alert: async () => undefined },
  });
  // The machine's Redis lets its default user in with any password.
  await secrets.create(
    {
      name: ADMIN,
      type: 'password',
      value: json({ username: 'default', password: newPassword() }),
      policy: { manual: true },
    },
    'test',
  );
  await secrets.create(
    {
      name: SECRET,
      type: 'redis',
      config: { host: HOST, port: PORT, username: user, adminSecret: ADMIN },
      value: json({ engine: 'redis', host: HOST, port: PORT, username: user, password }),
      policy: { manual: true, grace: '1h' },
    },
    'test',
  );
});

afterAll(async () => {
  await redis?.call('ACL', 'DELUSER', user);
  redis?.disconnect();
  await store?.close();
  await location?.destroy();
});

async function adminReads(name = ADMIN): Promise<number> {
  const events = await store.auditEvents({ secret: name, limit: 1000 });
  return events.filter((event) => event.action === 'secret.read').length;
}

describe('rotation engine, referenced secrets', () => {
  it('reads (and audits) the admin credential once per rotation, though retire and apply both use it', async () => {
    expect((await engine.rotate(SECRET, 'test')).result).toBe('promoted');
    expect(await adminReads()).toBe(1);
    // The previous version is still in grace: this rotation retires it first, as the admin, then applies.
    const outcome = await engine.rotate(SECRET, 'test');
    expect(outcome.result).toBe('promoted');
    expect(outcome.rotation.fromVersion).toBe(2);
    expect(await adminReads()).toBe(2);
    const hashes = (await redis.call('ACL', 'GETUSER', user)) as unknown[];
    const passwords = hashes[hashes.indexOf('passwords') + 1] as string[];
    // Version 1 was retired early; versions 2 (previous) and 3 (current) are accepted.
    expect(passwords).toHaveLength(2);
  });

  it('reads it again after a failed step: the rollback does not reuse what the failure met', async () => {
    const wrongAdmin = 'test/redis-admin-wrong';
    await secrets.create(
      {
        name: wrongAdmin,
        type: 'password',
        value: json({ username: `${user}_nobody`, password: newPassword() }),
        policy: { manual: true },
      },
      'test',
    );
    const current = (await secrets.reveal(SECRET, { stage: 'current' }, 'test')).value;
    await secrets.create(
      {
        name: `${SECRET}-denied`,
        type: 'redis',
        config: { host: HOST, port: PORT, username: user, adminSecret: wrongAdmin },
        value: current,
        policy: { manual: true },
      },
      'test',
    );
    const outcome = await engine.rotate(`${SECRET}-denied`, 'test');
    expect(outcome.result).toBe('stalled');
    expect(outcome.error).toContain(`refused the password of admin user "${user}_nobody"`);
    // apply read it and failed; the rollback read it again (and failed the same way).
    expect(await adminReads(wrongAdmin)).toBe(2);
  });
});
