import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RotorError } from '../../src/core/errors.js';
import { SecretValue } from '../../src/core/secret-value.js';
import { redisRotator } from '../../src/rotators/redis/redis-rotator.js';
import type { RotatorContext, RotatorSecret, VersionedValue } from '../../src/rotators/rotator.js';

const HOST = '127.0.0.1';
const PORT = Number(process.env.ROTOR_TEST_REDIS_PORT ?? 6379);
const RUN = `${process.pid}_${randomBytes(4).toString('hex')}`;
const ADMIN = {
  username: `rotor_test_admin_${RUN}`,
  password: `admin-${randomBytes(12).toString('hex')}`,
};

const users: string[] = [];
let serial = 0;

/** A fresh ACL user that accepts `password` and may run PING. */
async function createUser(password: string): Promise<string> {
  const name = `rotor_test_${RUN}_${++serial}`;
  users.push(name);
  await root((r) => r.call('ACL', 'SETUSER', name, 'reset', 'on', `>${password}`, '+ping'));
  return name;
}

async function root<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: HOST, port: PORT, lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  try {
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

/** Whether Redis lets `username` log in with `password`, checked with a raw client. */
async function accepts(username: string, password: string): Promise<boolean> {
  return root(async (redis) => {
    try {
      await redis.call('AUTH', username, password);
      return (await redis.ping()) === 'PONG';
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('WRONGPASS')) return false;
      throw error;
    }
  });
}

function credential(username: string, password: string, port = PORT): SecretValue {
  return SecretValue.fromString(
    JSON.stringify({ engine: 'redis', host: HOST, port, username, password }),
  );
}

function passwordOf(value: SecretValue): string {
  return (JSON.parse(value.reveal()) as { password: string }).password;
}

function secretFor(config: Record<string, unknown>): RotatorSecret {
  return { name: 'test/redis/app', config: redisRotator.parseConfig(config) };
}

const ctx: RotatorContext = {
  now: () => new Date(),
  readSecret: async () => SecretValue.fromString(JSON.stringify(ADMIN)),
};

/** Runs generate and apply in the engine's order; returns the versions involved. */
async function startRotation(secret: RotatorSecret, currentPassword: string) {
  const username = String(secret.config.username);
  const current: VersionedValue = { version: 1, value: credential(username, currentPassword) };
  const pending: VersionedValue = {
    version: 2,
    value: await redisRotator.generate(secret, current, ctx),
  };
  return { secret, current, pending };
}

async function rejection(promise: Promise<unknown>): Promise<RotorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RotorError);
  return error as RotorError;
}

beforeAll(async () => {
  await root((r) =>
    r.call(
      'ACL',
      'SETUSER',
      ADMIN.username,
      'reset',
      'on',
      `>${ADMIN.password}`,
      '~*',
      '&*',
      '+@all',
    ),
  );
});

afterAll(async () => {
  await root((r) => r.call('ACL', 'DELUSER', ADMIN.username, ...users));
});

describe('redis rotator (dual-password through ACL)', () => {
  it('keeps old and new during the grace period, then only new after retire', async () => {
    const username = await createUser('old-password-1');
    const secret = secretFor({ host: HOST, port: PORT, username });
    const input = await startRotation(secret, 'old-password-1');
    const next = passwordOf(input.pending.value);
    expect(next).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(JSON.parse(input.pending.value.reveal())).toEqual({
      engine: 'redis',
      host: HOST,
      port: PORT,
      username,
      password: next,
    });

    await redisRotator.apply(input, ctx);
    await redisRotator.apply(input, ctx); // idempotent: a resumed step runs again

    const wrong = { ...input, pending: { version: 2, value: credential(username, 'not-it') } };
    const refused = await rejection(redisRotator.verify(wrong, ctx));
    expect(refused.code).toBe('ERR_TARGET_AUTH');
    expect(refused.message).toContain(`${HOST}:${PORT}`);
    expect(refused.message).toContain(username);
    expect(refused.message).not.toContain('not-it');

    await redisRotator.verify(input, ctx);
    expect(await accepts(username, 'old-password-1')).toBe(true);
    expect(await accepts(username, next)).toBe(true);

    const retire = {
      secret,
      current: { version: 2, value: input.pending.value },
      retiring: input.current,
    };
    await redisRotator.retire(retire, ctx);
    await redisRotator.retire(retire, ctx);
    expect(await accepts(username, 'old-password-1')).toBe(false);
    expect(await accepts(username, next)).toBe(true);
  });

  it('rollback removes the pending password and keeps the current one', async () => {
    const username = await createUser('old-password-2');
    const input = await startRotation(secretFor({ host: HOST, username }), 'old-password-2');
    const next = passwordOf(input.pending.value);
    await redisRotator.apply(input, ctx);
    expect(await accepts(username, next)).toBe(true);

    await redisRotator.rollback(input, ctx);
    await redisRotator.rollback(input, ctx);
    expect(await accepts(username, next)).toBe(false);
    expect(await accepts(username, 'old-password-2')).toBe(true);
    await expect(redisRotator.verify(input, ctx)).rejects.toMatchObject({
      code: 'ERR_TARGET_AUTH',
    });
  });

  it('works through an admin credential named by adminSecret', async () => {
    const username = await createUser('old-password-3');
    const secret = secretFor({ host: HOST, username, adminSecret: 'test/redis/admin' });
    const input = await startRotation(secret, 'old-password-3');
    await redisRotator.apply(input, ctx);
    await redisRotator.verify(input, ctx);
    expect(await accepts(username, passwordOf(input.pending.value))).toBe(true);
  });

  it('refuses a wrong admin password with ERR_TARGET_AUTH that names no password', async () => {
    const username = await createUser('old-password-4');
    const secret = secretFor({ host: HOST, username, adminSecret: 'test/redis/admin' });
    const input = await startRotation(secret, 'old-password-4');
    const wrongAdmin: RotatorContext = {
      now: () => new Date(),
      readSecret: async () =>
        SecretValue.fromString(JSON.stringify({ ...ADMIN, password: 'wrong-admin-pw' })),
    };
    const error = await rejection(redisRotator.apply(input, wrongAdmin));
    expect(error.code).toBe('ERR_TARGET_AUTH');
    expect(error.message).toContain(ADMIN.username);
    expect(error.message).toContain(`${HOST}:${PORT}`);
    expect(error.message).not.toContain('wrong-admin-pw');
    expect(error.message).not.toContain(passwordOf(input.pending.value));
    expect(await accepts(username, passwordOf(input.pending.value))).toBe(false);
  });

  it('never shows the new plaintext password to MONITOR during apply', async () => {
    const username = await createUser('old-password-5');
    const input = await startRotation(secretFor({ host: HOST, username }), 'old-password-5');
    const next = passwordOf(input.pending.value);
    const watcher = new Redis({ host: HOST, port: PORT, lazyConnect: true });
    await watcher.connect();
    const monitor = await watcher.monitor();
    const lines: string[] = [];
    const marker = `rotor-monitor-marker-${RUN}`;
    const sawMarker = new Promise<void>((resolve) => {
      monitor.on('monitor', (_time: string, args: string[]) => {
        lines.push(args.join(' '));
        if (args.includes(marker)) resolve();
      });
    });
    try {
      await redisRotator.apply(input, ctx);
      await redisRotator.verify(input, ctx);
      // The marker arrives after every command of apply: MONITOR was live all along.
      await root((r) => r.echo(marker));
      await sawMarker;
    } finally {
      monitor.disconnect();
      watcher.disconnect();
    }
    expect(lines.some((line) => line.includes(marker))).toBe(true);
    expect(lines.join('\n')).not.toContain(next);
    expect(await accepts(username, next)).toBe(true);
  });

  it('check accepts the current value and reports a password changed behind its back', async () => {
    const username = await createUser('old-password-6');
    const secret = secretFor({ host: HOST, username });
    const current = { version: 1, value: credential(username, 'old-password-6') };
    expect(await redisRotator.check(secret, current, ctx)).toBe('accepted');

    await root((r) => r.call('ACL', 'SETUSER', username, 'resetpass', '>changed-elsewhere'));
    const error = await rejection(redisRotator.check(secret, current, ctx));
    expect(error.code).toBe('ERR_TARGET_AUTH');
    expect(error.message).toContain(username);
    expect(error.message).not.toContain('old-password-6');
  });

  it('reports an unreachable target as ERR_TARGET_UNREACHABLE', async () => {
    const closedPort = await freePort();
    const secret = secretFor({ host: HOST, port: closedPort, username: 'nobody' });
    const current = { version: 1, value: credential('nobody', 'whatever-pw', closedPort) };
    const error = await rejection(redisRotator.check(secret, current, ctx));
    expect(error.code).toBe('ERR_TARGET_UNREACHABLE');
    expect(error.message).toContain(`${HOST}:${closedPort}`);
    const pending = { version: 2, value: await redisRotator.generate(secret, current, ctx) };
    const applied = await rejection(redisRotator.apply({ secret, current, pending }, ctx));
    expect(applied.code).toBe('ERR_TARGET_UNREACHABLE');
  });

  it('refuses to create an ACL user that does not exist', async () => {
    const secret = secretFor({ host: HOST, username: `rotor_test_${RUN}_missing` });
    const input = await startRotation(secret, 'whatever-pw');
    const error = await rejection(redisRotator.apply(input, ctx));
    expect(error.code).toBe('ERR_TARGET_REJECTED');
    expect(error.message).toContain('no ACL user');
    expect(await root((r) => r.call('ACL', 'GETUSER', `rotor_test_${RUN}_missing`))).toBeNull();
  });

  it('needs the current credential at creation and validates values', async () => {
    const secret = secretFor({ host: HOST, username: 'app' });
    const error = await rejection(redisRotator.generate(secret, undefined, ctx));
    expect(error.code).toBe('ERR_INVALID_INPUT');
    expect(error.message).toContain('--value-stdin');

    expect(() => redisRotator.validateValue(secret, credential('app', 'pw'))).not.toThrow();
    expect(() => redisRotator.validateValue(secret, credential('other', 'pw'))).toThrow(
      'value of test/redis/app: username: expected "app" as in the config',
    );
    const mysql = SecretValue.fromString(
      JSON.stringify({ engine: 'mysql', host: HOST, port: 3306, username: 'app', password: 'pw' }),
    );
    expect(() => redisRotator.validateValue(secret, mysql)).toThrow('engine: expected "redis"');
    expect(() => redisRotator.validateValue(secret, SecretValue.fromString('pw'))).toThrow(
      'expected credential JSON',
    );
  });

  it('rejects bad configs with precise errors and applies defaults', () => {
    expect(redisRotator.parseConfig({ host: 'cache', username: 'app' })).toEqual({
      host: 'cache',
      port: 6379,
      username: 'app',
      tls: false,
      passwordLength: 32,
    });
    const cases: [unknown, string][] = [
      [
        { host: HOST, username: 'app', port: 0 },
        'port: expected an integer from 1 to 65535 (got 0)',
      ],
      [{ username: 'app' }, 'host: expected a host name or address'],
      [{ host: HOST }, 'username: expected an ACL user name'],
      [{ host: HOST, username: 'a b' }, 'username: expected no whitespace or control characters'],
      [
        { host: HOST, username: 'app', passwordLength: 8 },
        'passwordLength: expected an integer from 16 to 128 (got 8)',
      ],
      [{ host: HOST, username: 'app', tls: 'yes' }, 'tls: expected true or false'],
      [{ host: HOST, username: 'app', adminSecret: 'Bad Name' }, 'adminSecret: expected the name'],
      [{ host: HOST, username: 'app', database: '0' }, 'unknown field "database"; accepted: host'],
    ];
    for (const [raw, message] of cases) {
      expect(() => redisRotator.parseConfig(raw)).toThrow(
        `invalid config for type redis: ${message}`,
      );
    }
    const error = (() => {
      try {
        redisRotator.parseConfig({ host: HOST, username: 'app', port: '6379' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toMatchObject({ code: 'ERR_INVALID_CONFIG' });
  });
});

/** A TCP port nothing listens on: bound by the system, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
