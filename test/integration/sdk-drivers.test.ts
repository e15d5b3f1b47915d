import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScenarioName, startTarget, type Target } from '../../bench/zero-downtime/targets.js';
import { createTargetSecrets } from '../../bench/zero-downtime-sdk/target-secrets.js';
import { ApiClient, secretPath } from '../../src/sdk/api-client.js';
import type { RefusedLogin } from '../../src/sdk/credential-source.js';
import { createClient, type RotorClient, type RotorClientOptions } from '../../src/sdk/index.js';
import { mysqlConnection } from '../../src/sdk/mysql-connection.js';
import { redisClient } from '../../src/sdk/redis-client.js';
import { startTestServer, type TestServer } from '../support/rotor-server.js';
import { runCli } from '../support/run-cli.js';

let server: TestServer;
let admin: ApiClient;
const targets: Target[] = [];
const clients: RotorClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
  admin = new ApiClient({ url: server.url, token: server.adminToken });
});

afterAll(async () => {
  for (const client of clients) await client.close();
  for (const target of targets) await target.stop();
  await server?.close();
});

async function credentialSecret(
  scenario: ScenarioName,
  grace: string,
  config: Record<string, unknown> = {},
): Promise<string> {
  const target = await startTarget(scenario);
  targets.push(target);
  const name = `sdk/${scenario}-${randomBytes(3).toString('hex')}`;
  await createTargetSecrets(admin, target, name, grace, config);
  return name;
}

function rotorClient(options: Partial<RotorClientOptions> = {}): RotorClient {
  const client = createClient({ url: server.url, token: server.adminToken, ...options });
  clients.push(client);
  return client;
}

async function rotate(name: string): Promise<number> {
  const { body } = await admin.request<{ result: string; toVersion: number }>(
    'POST',
    secretPath(name, 'rotate'),
  );
  expect(body).toMatchObject({ result: 'promoted' });
  return body.toVersion;
}

describe('mysqlConnection', () => {
  it('connects with the current credential and retries once after a refusal (single strategy)', async () => {
    const name = await credentialSecret('mariadb-alternating', '1h', { strategy: 'single' });
    const client = rotorClient({ events: false, ttlMs: 600_000 });
    const refused: RefusedLogin[] = [];
    const onLoginRefused = (login: RefusedLogin) => refused.push(login);
    const first = await mysqlConnection(client, name, { onLoginRefused });
    await first.query('SELECT 1');
    await first.end();
    expect(refused).toEqual([]);

    await rotate(name);
    const second = await mysqlConnection(client, name, { onLoginRefused });
    const [rows] = await second.query('SELECT 2 AS two');
    expect(rows).toEqual([{ two: 2 }]);
    await second.end();
    expect(refused.map((r) => [r.version, (r.error as { code?: string }).code])).toEqual([
      [1, 'ER_ACCESS_DENIED_ERROR'],
    ]);
  });
});

describe('redisClient', () => {
  it('connects with the current credential and retries once after WRONGPASS', async () => {
    const name = await credentialSecret('redis-dual', '1s');
    const client = rotorClient({ events: false, ttlMs: 600_000 });
    const refused: RefusedLogin[] = [];
    const onLoginRefused = (login: RefusedLogin) => refused.push(login);
    const first = await redisClient(client, name, { onLoginRefused, enableReadyCheck: false });
    expect(await first.ping()).toBe('PONG');
    await first.quit();

    // After the grace period the old password is removed from the ACL user.
    await rotate(name);
    await sleep(1_100);
    const retired = await runCli(['run', '--once'], { env: server.cliEnv });
    expect(retired.code).toBe(0);
    const second = await redisClient(client, name, { onLoginRefused, enableReadyCheck: false });
    expect(await second.ping()).toBe('PONG');
    await second.quit();
    expect(refused.map((r) => [r.version, r.error.message.split(' ')[0]])).toEqual([
      [1, 'WRONGPASS'],
    ]);
  });

  it('reconnects with the new credential after a rotation', async () => {
    const name = await credentialSecret('redis-dual', '1s');
    const client = rotorClient();
    await client.subscribed();
    const redis = await redisClient(client, name, { enableReadyCheck: false });
    const version = await rotate(name);
    await sleep(1_100);
    expect((await runCli(['run', '--once'], { env: server.cliEnv })).code).toBe(0);
    const deadline = Date.now() + 3_000;
    while ((await client.get(name)).version !== version && Date.now() < deadline) await sleep(20);
    const { password } = JSON.parse((await client.get(name)).value) as { password: string };
    expect(redis.options.password).toBe(password);
    // A dropped connection comes back, logging in with the new password.
    redis.disconnect(true);
    expect(await redis.ping()).toBe('PONG');
    await redis.quit();
  });
});
