import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult } from '../support/rotor-sandbox.js';
import { startTestServer, type TestServer } from '../support/rotor-server.js';
import { type CliResult, runCli } from '../support/run-cli.js';

/**
 * The CLI's remote mode: with ROTOR_ADDR and ROTOR_TOKEN set, commands go
 * through a running server's API and print exactly what local mode prints
 * on the same data. Remote runs get a ROTOR_HOME that does not exist, so any
 * attempt to open a store there would fail (and create it).
 */

type Json = Record<string, unknown>;

const CLI_TIMEOUT_MS = 120_000;

function ok(result: CliResult): string {
  expect(result.code, describeResult(result)).toBe(0);
  expect(result.stderr).toBe('');
  return result.stdout;
}

function json<T = Json>(result: CliResult): T {
  return JSON.parse(ok(result)) as T;
}

function expectFailure(result: CliResult, code: 1 | 2, ...mentions: RegExp[]): void {
  expect(result.code, describeResult(result)).toBe(code);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^rotor: [^\n]+\n$/);
  for (const mention of mentions) expect(result.stderr).toMatch(mention);
}

function without(value: Json, ...keys: string[]): Json {
  return Object.fromEntries(Object.entries(value).filter(([key]) => !keys.includes(key)));
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('rotor CLI remote mode', { timeout: 180_000 }, () => {
  let server: TestServer;
  let parent: string;
  let absentHome: string;
  let remoteEnv: Record<string, string>;

  const local = (args: readonly string[], stdin?: string) =>
    runCli(args, { env: { ...server.cliEnv }, stdin, timeoutMs: CLI_TIMEOUT_MS });
  const remote = (
    args: readonly string[],
    options: { stdin?: string; env?: Record<string, string | undefined> } = {},
  ) =>
    runCli(args, {
      env: { ...remoteEnv, ...options.env },
      stdin: options.stdin,
      timeoutMs: CLI_TIMEOUT_MS,
    });
  /** Runs `args` remotely and locally at once; both must succeed. */
  const both = async (args: readonly string[]) => {
    const [r, l] = await Promise.all([remote(args), local(args)]);
    return { remote: ok(r), local: ok(l) };
  };

  beforeAll(async () => {
    server = await startTestServer();
    parent = mkdtempSync(join(tmpdir(), 'rotor-remote-'));
    absentHome = join(parent, 'absent');
    remoteEnv = { ROTOR_ADDR: server.url, ROTOR_TOKEN: server.adminToken, ROTOR_HOME: absentHome };
    const created = await Promise.all([
      remote(['secret', 'create', 'rem/pw', '--type', 'password', '--value-stdin'], {
        stdin: 'first-password-1\n',
      }),
      local(['secret', 'create', 'loc/app', '--type', 'api-key', '--prefix', 'rk_', '--json']),
      remote(['secret', 'create', 'rem/app', '--type', 'api-key', '--prefix', 'rk_', '--json']),
    ]);
    const [pw, localApp, remoteApp] = created.map(ok);
    expect(pw).toMatch(/^created rem\/pw \(password\) version 1; next rotation \S+Z\n$/);
    const volatile = ['name', 'createdAt', 'nextRotationAt'];
    expect(without(JSON.parse(remoteApp ?? ''), ...volatile)).toEqual(
      without(JSON.parse(localApp ?? ''), ...volatile),
    );
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    if (parent) rmSync(parent, { recursive: true, force: true });
  });

  it('put, list, history and get print what local mode prints', async () => {
    const put = json(
      await remote(['secret', 'put', 'rem/pw', '--value-stdin', '--json'], {
        stdin: 'second-password-2',
      }),
    );
    expect(put).toMatchObject({ name: 'rem/pw', version: 2, stages: ['current'] });
    const reads = [
      ['secret', 'list', '--json'],
      ['secret', 'list', '--prefix', 'rem/'],
      ['secret', 'history', 'rem/pw', '--json'],
      ['secret', 'history', 'rem/pw'],
      ['secret', 'get', 'rem/pw', '--stage', 'previous', '--json'],
      ['secret', 'get', 'rem/pw'],
    ];
    const outputs = await Promise.all(reads.map(both));
    for (const [i, output] of outputs.entries()) {
      expect(output.remote, reads[i]?.join(' ')).toBe(output.local);
    }
    const [list, , history, , previous, current] = outputs.map((o) => o.remote);
    expect((JSON.parse(list ?? '') as Json[]).map((s) => s.name)).toEqual([
      'loc/app',
      'rem/app',
      'rem/pw',
    ]);
    expect((JSON.parse(history ?? '') as Json[]).map((v) => v.stages)).toEqual([
      ['current'],
      ['previous'],
    ]);
    expect(JSON.parse(previous ?? '')).toMatchObject({ version: 1, value: 'first-password-1' });
    expect(current).toBe('second-password-2\n');
  });

  it('update and resume print what local mode prints', async () => {
    const update = ['secret', 'update', 'rem/pw', '--schedule', '12h', '--json'];
    const remoteUpdate = json(await remote(update));
    const localUpdate = json(await local(update));
    expect(remoteUpdate).toMatchObject({ name: 'rem/pw', policy: { schedule: '12h' } });
    expect(without(remoteUpdate, 'nextRotationAt')).toEqual(without(localUpdate, 'nextRotationAt'));
    const resumed = await both(['secret', 'resume', 'rem/pw']);
    expect(resumed.remote).toBe('resumed rem/pw; it rotates at the next run\n');
    expect(resumed.remote).toBe(resumed.local);
  });

  it('rotate, dry run, rollback and cancel print what local mode prints', async () => {
    const [remoteRotate, localRotate] = await Promise.all([
      remote(['rotate', 'rem/app', '--json']),
      local(['rotate', 'loc/app', '--json']),
    ]);
    const outcome = json(remoteRotate);
    expect(outcome).toMatchObject({
      name: 'rem/app',
      kind: 'rotate',
      result: 'promoted',
      state: 'done',
      fromVersion: 1,
      toVersion: 2,
      error: null,
    });
    expect(without(outcome, 'name', 'rotation')).toEqual(
      without(json(localRotate), 'name', 'rotation'),
    );

    expect(ok(await remote(['rotate', 'rem/app', '--dry-run']))).toBe(
      'rem/app: dry run verified version 3 and discarded it; current stays 2\n',
    );
    const [remoteRollback, localRollback] = await Promise.all([
      remote(['rollback', 'rem/app']),
      local(['rollback', 'loc/app']),
    ]);
    const rollbackLine = /^(\S+): rolled back to version 1 \(rotation \d+\)\n$/;
    expect(ok(remoteRollback)).toMatch(rollbackLine);
    expect(ok(localRollback)).toMatch(rollbackLine);

    const [remoteCancel, localCancel] = await Promise.all([
      remote(['rotate', 'rem/app', '--cancel']),
      local(['rotate', 'rem/app', '--cancel']),
    ]);
    expectFailure(remoteCancel, 1, /rem\/app has no rotation in flight/);
    expect(remoteCancel.stderr).toBe(localCancel.stderr);
  });

  it('status prints what local mode prints, but for the age of each secret', async () => {
    const [remoteJson, localJson] = await Promise.all([
      remote(['status', '--json']),
      local(['status', '--json']),
    ]);
    const rows = json<Json[]>(remoteJson);
    expect(rows.map((r) => [r.name, r.state])).toEqual([
      ['loc/app', 'in-grace'],
      ['rem/app', 'in-grace'],
      // Resumed: due now.
      ['rem/pw', 'overdue'],
    ]);
    expect(rows.map((r) => without(r, 'ageSeconds'))).toEqual(
      json<Json[]>(localJson).map((r) => without(r, 'ageSeconds')),
    );
    const table = await both(['status']);
    const withoutAge = (text: string) =>
      text.split('\n').map((line) =>
        line
          .split(/\s{2,}/)
          .toSpliced(3, 1)
          .join(' '),
      );
    expect(withoutAge(table.remote)).toEqual(withoutAge(table.local));
    expect(table.remote.split('\n')[0]).toMatch(/^NAME\s+TYPE\s+VERSION\s+AGE\s+/);
  });

  it('audit tail and audit verify print what local mode prints', async () => {
    // Requests for the trail are audited without a secret, so a --secret tail is stable.
    for (const args of [
      ['audit', 'tail', '--secret', 'rem/pw', '-n', '4', '--json'],
      ['audit', 'tail', '--secret', 'rem/pw', '-n', '4'],
    ]) {
      const remoteTail = ok(await remote(args));
      expect(remoteTail).toBe(ok(await local(args)));
    }
    const tail = json<Json[]>(
      await remote(['audit', 'tail', '--secret', 'rem/pw', '-n', '4', '--json']),
    );
    expect(tail).toHaveLength(4);
    for (const event of tail)
      expect(event).toMatchObject({ secret: 'rem/pw', hash: expect.any(String) });
    expect(JSON.stringify(tail)).not.toContain('second-password-2');

    const [remoteVerify, localVerify] = await Promise.all([
      remote(['audit', 'verify']),
      local(['audit', 'verify']),
    ]);
    expect(ok(localVerify)).toMatch(/^audit chain intact: \d+ events/);
    // The remote check runs on the server, whose trail has grown by the requests since.
    expect(ok(remoteVerify)).toMatch(/^audit chain intact: \d+ events/);
  });

  it('token commands work remotely; a token without the capability gets the 403 message', async () => {
    const created = json<{ id: string; token: string }>(
      await remote([
        'token',
        'create',
        '--policy',
        '[{"path": "rem/**", "capabilities": ["list"]}]',
        '--name',
        'lister',
        '--json',
      ]),
    );
    const tokens = await both(['token', 'list', '--json']);
    expect(tokens.remote).toBe(tokens.local);
    expect(tokens.remote).not.toContain(created.token);
    expect((JSON.parse(tokens.remote) as Json[]).map((t) => t.name)).toEqual(['admin', 'lister']);

    const asLister = (args: readonly string[]) =>
      remote(args, { env: { ROTOR_TOKEN: created.token } });
    const [get, list, tokenList] = await Promise.all([
      asLister(['secret', 'get', 'rem/pw']),
      asLister(['secret', 'list', '--json']),
      asLister(['token', 'list']),
    ]);
    expectFailure(get, 1, /lacks the read capability/);
    expect(get.stderr).not.toMatch(/^\s+at /m);
    expect(json<Json[]>(list).map((s) => s.name)).toEqual(['rem/app', 'rem/pw']);
    expectFailure(tokenList, 1, /lacks the admin capability/);

    expect(ok(await remote(['token', 'revoke', created.id]))).toBe(`revoked token ${created.id}\n`);
    expectFailure(await asLister(['secret', 'list']), 1, /invalid or expired token/, /ROTOR_TOKEN/);
  });

  it('delete works remotely, and a bad name is refused with the local message', async () => {
    expect(ok(await remote(['secret', 'delete', 'rem/app', '--yes']))).toBe('deleted rem/app\n');
    const [gone, remoteBad, localBad] = await Promise.all([
      local(['secret', 'get', 'rem/app']),
      remote(['secret', 'get', 'rem/../x']),
      local(['secret', 'get', 'rem/../x']),
    ]);
    expectFailure(gone, 1, /rem\/app does not exist/);
    expectFailure(remoteBad, 1, /invalid secret name/);
    expect(remoteBad.stderr).toBe(localBad.stderr);
  });

  it('misconfiguration and local-only commands get one clear line, and no store is opened', async () => {
    const port = await closedPort();
    const [unreachable, notUrl, addrOnly, init, runOnce] = await Promise.all([
      remote(['secret', 'list'], { env: { ROTOR_ADDR: `http://127.0.0.1:${port}` } }),
      remote(['secret', 'list'], { env: { ROTOR_ADDR: 'rotor.example:8200' } }),
      remote(['status'], { env: { ROTOR_TOKEN: undefined } }),
      remote(['init']),
      remote(['run', '--once']),
    ]);
    expectFailure(
      unreachable,
      1,
      new RegExp(`cannot reach Rotor at http://127\\.0\\.0\\.1:${port}`),
      /ECONNREFUSED/,
    );
    expectFailure(notUrl, 2, /ROTOR_ADDR/, /http:\/\//);
    expectFailure(addrOnly, 2, /ROTOR_ADDR is set but ROTOR_TOKEN is not/);
    expectFailure(init, 2, /rotor init works on the local store/);
    expectFailure(runOnce, 2, /rotor run works on the local store/);
    expect(existsSync(absentHome)).toBe(false);
  });
});
