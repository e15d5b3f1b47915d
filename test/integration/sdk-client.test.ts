import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, secretPath } from '../../src/sdk/api-client.js';
import {
  createClient,
  RotorApiError,
  type RotorClient,
  type RotorClientOptions,
  type RotorEvent,
  type SecretEntry,
} from '../../src/sdk/index.js';
import { startTestServer, type TestServer } from '../support/rotor-server.js';

let server: TestServer;
let admin: ApiClient;
const clients: RotorClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
  admin = new ApiClient({ url: server.url, token: server.adminToken });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await server?.close();
});

function client(options: Partial<RotorClientOptions> = {}): RotorClient {
  const created = createClient({ url: server.url, token: server.adminToken, ...options });
  clients.push(created);
  return created;
}

async function createSecret(): Promise<string> {
  const name = `sdk/${randomBytes(4).toString('hex')}/api-key`;
  await admin.request('POST', '/v1/secrets', {
    body: { name, type: 'api-key', policy: { manual: true } },
  });
  return name;
}

async function rotate(name: string): Promise<number> {
  const { body } = await admin.request<{ result: string; toVersion: number }>(
    'POST',
    secretPath(name, 'rotate'),
  );
  expect(body.result).toBe('promoted');
  return body.toVersion;
}

/** How many value reads the server answered with `status`, from its own /metrics. */
async function valueRequests(status: number): Promise<number> {
  const text = await (
    await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    })
  ).text();
  const line = text
    .split('\n')
    .find((l) =>
      l.startsWith(
        `rotor_api_request_duration_seconds_count{operation="getSecretValue",status="${status}"}`,
      ),
    );
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, ms = 3_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms`);
    await sleep(20);
  }
}

describe('get', () => {
  it('reads the current value once, then serves it from memory while fresh', async () => {
    const name = await createSecret();
    const rotor = client({ ttlMs: 60_000, events: false });
    const before = await valueRequests(200);
    const first = await rotor.get(name);
    expect(first).toMatchObject({ name, version: 1, stages: ['current'] });
    expect(first.value).toMatch(/^[A-Za-z0-9]{20,}$/);
    expect(await valueRequests(200)).toBe(before + 1);
    for (let i = 0; i < 5; i++) expect(await rotor.get(name)).toEqual(first);
    expect(await valueRequests(200)).toBe(before + 1);
  });

  it('past the TTL serves the stale value at once and revalidates with If-None-Match (304)', async () => {
    const name = await createSecret();
    const rotor = client({ ttlMs: 100, events: false });
    const first = await rotor.get(name);
    const reads = await valueRequests(200);
    const notModified = await valueRequests(304);
    await sleep(150);
    expect(await rotor.get(name)).toBe(first);
    await until(
      () => valueRequests(304),
      (n) => n === notModified + 1,
    );
    expect(await valueRequests(200)).toBe(reads);
    // The 304 renewed the entry: fresh again, no request.
    await rotor.get(name);
    expect(await valueRequests(304)).toBe(notModified + 1);
  });

  it('a revalidation that finds a new version replaces the value and tells the watchers', async () => {
    const name = await createSecret();
    const rotor = client({ ttlMs: 50, events: false });
    await rotor.get(name);
    const seen: SecretEntry[] = [];
    rotor.watch(name, (entry) => seen.push(entry));
    await until(
      () => seen,
      (s) => s.length === 1,
    );
    await rotate(name);
    await sleep(80);
    await rotor.get(name);
    const changed = await until(
      () => seen,
      (s) => s.length === 2,
    );
    // The value in place when watching started, then the new one.
    expect(changed.map((e) => e.version)).toEqual([1, 2]);
    expect((await rotor.get(name)).version).toBe(2);
  });

  it('past maxStaleMs waits for the server instead of serving the old value', async () => {
    const name = await createSecret();
    const rotor = client({ ttlMs: 50, maxStaleMs: 50, events: false });
    await rotor.get(name);
    await rotate(name);
    await sleep(80);
    expect((await rotor.get(name)).version).toBe(2);
  });

  it('surfaces API errors as RotorApiError with the stable code', async () => {
    const name = await createSecret();
    const { body } = await admin.request<{ token: string }>('POST', '/v1/tokens', {
      body: { policy: [{ path: `${name}`, capabilities: ['list'] }] },
    });
    const listOnly = client({ token: body.token, events: false });
    const refused = await listOnly.get(name).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RotorApiError);
    expect(refused).toMatchObject({ code: 'ERR_FORBIDDEN', status: 403 });

    const missing = await client({ events: false })
      .get(`${name}-missing`)
      .catch((error: unknown) => error);
    expect(missing).toMatchObject({ code: 'ERR_SECRET_NOT_FOUND', status: 404 });

    const wrongToken = await client({ token: 'rtr_not-a-token', events: false })
      .get(name)
      .catch((error: unknown) => error);
    expect(wrongToken).toMatchObject({ code: 'ERR_UNAUTHENTICATED', status: 401 });
  });

  it('rejects bad options with an exact message', () => {
    expect(() => createClient({ url: 'nope', token: 't' })).toThrow(
      'Expected `url` to be the Rotor server URL',
    );
    expect(() => createClient({ url: server.url, token: '' })).toThrow(
      'Expected `token` to be a Rotor API token.',
    );
    expect(() => createClient({ url: server.url, token: 't', ttlMs: -1 })).toThrow(
      'Expected `ttlMs` to be a non-negative number of milliseconds.',
    );
  });
});

describe('event stream', () => {
  it('refreshes the cache within 1 s of a rotation, without polling, and fires watch and onRotate', async () => {
    const name = await createSecret();
    const rotor = client({ ttlMs: 600_000 });
    const first = await rotor.get(name);
    await rotor.subscribed();
    const watched = new Promise<SecretEntry>((resolve) =>
      rotor.watch(name, (entry) => {
        if (entry.version !== first.version) resolve(entry);
      }),
    );
    const hooks: RotorEvent[] = [];
    rotor.onRotate((event) => {
      if (event.name === name) hooks.push(event);
    });
    const reads = await valueRequests(200);
    const started = Date.now();
    const version = await rotate(name);
    const entry = await Promise.race([
      watched,
      sleep(2_000).then(() => Promise.reject(new Error('no refresh within 2 s'))),
    ]);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(entry.version).toBe(version);
    expect(entry.value).not.toBe(first.value);
    expect(await rotor.get(name)).toEqual(entry);
    // One read for the refresh, none for polling.
    expect(await valueRequests(200)).toBe(reads + 1);
    const hook = await until(
      () => hooks,
      (h) => h.length > 0,
    );
    expect(hook[0]).toMatchObject({ event: 'rotation.promoted', name, version });
  });

  it('refreshes after a put and a rollback too', async () => {
    const name = await createSecret();
    const rotor = client({ ttlMs: 600_000 });
    await rotor.get(name);
    await rotor.subscribed();
    const versions: number[] = [];
    rotor.watch(name, (entry) => versions.push(entry.version));
    await admin.request('POST', secretPath(name, 'put'), { body: { value: 'put-by-hand-123' } });
    await until(
      () => versions,
      (v) => v.includes(2),
    );
    expect((await rotor.get(name)).value).toBe('put-by-hand-123');
    await admin.request('POST', secretPath(name, 'rollback'));
    await until(
      () => versions,
      (v) => v.length === 3,
    );
    expect(versions).toEqual([1, 2, 1]);
    expect((await rotor.get(name)).version).toBe(1);
  });

  it('resumes after a dropped connection with Last-Event-ID and hears what it missed', async () => {
    const name = await createSecret();
    const proxy = await startProxy(new URL(server.url).port);
    try {
      const rotor = client({ url: proxy.url, ttlMs: 600_000 });
      const versions: number[] = [];
      rotor.watch(name, (entry) => versions.push(entry.version));
      const announced: number[] = [];
      rotor.onRotate((event) => {
        if (event.name === name && event.version !== null) announced.push(event.version);
      });
      await rotor.subscribed();
      await rotate(name);
      await until(
        () => versions,
        (v) => v.includes(2),
      );
      await until(
        () => announced,
        (a) => a.includes(2),
      );
      // The stream now has an event id; cut it and rotate while it is down.
      proxy.pause();
      await rotate(name);
      proxy.resume();
      await until(
        () => versions,
        (v) => v.includes(3),
        5_000,
      );
      // Version 1 only if the first read answered before the rotation.
      expect(versions.filter((v) => v !== 1)).toEqual([2, 3]);
      // Only a replayed event announces version 3: a fresh stream would have missed it.
      await until(
        () => announced,
        (a) => a.includes(3),
      );
      expect(proxy.connections).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.close();
    }
  });
});

describe('verify', () => {
  it('tells whether a presented value is valid now', async () => {
    const name = await createSecret();
    const rotor = client({ events: false });
    const { value } = await rotor.get(name);
    expect(await rotor.verify(name, value)).toEqual({ valid: true, stage: 'current' });
    expect(await rotor.verify(name, `${value}x`)).toEqual({ valid: false, stage: null });
    await rotate(name);
    expect(await rotor.verify(name, value)).toEqual({ valid: true, stage: 'previous' });
  });
});

describe('close', () => {
  it('stops the stream and refuses further use', async () => {
    const rotor = createClient({ url: server.url, token: server.adminToken });
    await rotor.subscribed();
    await rotor.close();
    await expect(rotor.get('sdk/any')).rejects.toThrow('this Rotor client is closed');
  });

  it('subscribed() rejects for a client that does not follow events', async () => {
    await expect(client({ events: false }).subscribed()).rejects.toThrow(
      'this Rotor client was created with events: false',
    );
  });
});

interface Proxy {
  readonly url: string;
  connections: number;
  /** Drops every connection and refuses new ones until resumed. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** A TCP relay to the server whose connections the test can cut, as a network would. */
async function startProxy(port: string): Promise<Proxy> {
  const sockets = new Set<Socket>();
  let paused = false;
  const relay: Server = createServer((inbound) => {
    if (paused) {
      inbound.destroy();
      return;
    }
    proxy.connections++;
    const outbound = connect(Number(port), '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.address() as { port: number };
  const proxy: Proxy = {
    url: `http://127.0.0.1:${address.port}`,
    connections: 0,
    pause() {
      paused = true;
      for (const socket of sockets) socket.destroy();
    },
    resume() {
      paused = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        relay.close(() => resolve());
      }),
  };
  return proxy;
}
