import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_CACHE_MS } from '../../src/access/token-service.js';
import { describeResult } from '../support/rotor-sandbox.js';
import { startTestServer, type TestServer } from '../support/rotor-server.js';
import { type CliResult, runCli } from '../support/run-cli.js';

/**
 * `rotor token create | list | revoke` on the local store, while a server
 * runs on that same store: a token issued by the CLI is accepted by the API,
 * and refused within `TOKEN_CACHE_MS` of the CLI revoking it.
 */

interface TokenJson {
  id: string;
  name: string;
  policy: Array<{ path: string; capabilities: string[] }>;
  createdAt: string;
  expiresAt: string | null;
}

interface CreatedTokenJson extends TokenJson {
  token: string;
}

const TOKEN = /^rtk_([A-Za-z0-9]{12})_[A-Za-z0-9]{43}$/;
const DAY_MS = 86_400_000;
const READ_POLICY = [{ path: 'tok/**', capabilities: ['read', 'list'] }];

function expectOk(result: CliResult): string {
  expect(result.code, describeResult(result)).toBe(0);
  expect(result.stderr).toBe('');
  return result.stdout;
}

function expectFailure(result: CliResult, code: 1 | 2, ...mentions: RegExp[]): void {
  expect(result.code, describeResult(result)).toBe(code);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^rotor: [^\n]+\n$/);
  for (const mention of mentions) expect(result.stderr).toMatch(mention);
}

describe('rotor token (local store)', { timeout: 120_000 }, () => {
  let server: TestServer;
  let dir: string;
  let policyFile: string;

  const rotor = (args: readonly string[]) => runCli(args, { env: { ...server.cliEnv } });
  const listSecrets = (token: string) =>
    fetch(`${server.url}/v1/secrets`, { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'rotor-token-cli-'));
    policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(READ_POLICY));
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates tokens from a policy file and inline JSON, lists them without values, and a revoked one is refused by the server', async () => {
    const before = Date.now();
    const [fromFile, inline] = await Promise.all([
      rotor([
        'token',
        'create',
        '--policy',
        policyFile,
        '--name',
        'ci reader',
        '--ttl',
        '30d',
        '--json',
      ]),
      rotor(['token', 'create', '--policy', '[{"path": "tok/*", "capabilities": ["rotate"]}]']),
    ]);
    const created = JSON.parse(expectOk(fromFile)) as CreatedTokenJson;
    expect(created).toEqual({
      id: expect.any(String),
      name: 'ci reader',
      policy: READ_POLICY,
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
      token: expect.stringMatching(TOKEN),
    });
    expect(TOKEN.exec(created.token)?.[1]).toBe(created.id);
    const ttl = Date.parse(created.expiresAt ?? '') - Date.parse(created.createdAt);
    expect(Math.abs(ttl - 30 * DAY_MS)).toBeLessThan(5_000);
    expect(Date.parse(created.createdAt)).toBeGreaterThanOrEqual(before - 1_000);

    const lines = expectOk(inline).split('\n');
    expect(lines[0]).toMatch(/^created token [A-Za-z0-9]{12} \(token\); expires never$/);
    expect(lines[1]).toMatch(/shown only now/);
    const inlineToken = lines[2]?.trim() ?? '';
    expect(inlineToken).toMatch(TOKEN);

    const [json, table] = await Promise.all([
      rotor(['token', 'list', '--json']),
      rotor(['token', 'list']),
    ]);
    const listed = JSON.parse(expectOk(json)) as TokenJson[];
    const { token: _value, ...withoutValue } = created;
    expect(listed).toContainEqual(withoutValue);
    expect(listed.map((t) => t.name).sort()).toEqual(['admin', 'ci reader', 'token']);
    expect(listed.every((t) => !('token' in t))).toBe(true);
    const tableText = expectOk(table);
    expect(tableText.split('\n')[0]).toMatch(/^ID\s+NAME\s+POLICY\s+CREATED\s+EXPIRES$/);
    expect(tableText).toMatch(new RegExp(`${created.id}\\s+ci reader\\s+tok/\\*\\*:read,list\\s`));
    for (const value of [created.token, inlineToken, server.adminToken]) {
      expect(json.stdout).not.toContain(value);
      expect(tableText).not.toContain(value);
    }

    expect((await listSecrets(created.token)).status).toBe(200);
    expect(await rotor(['token', 'revoke', created.id])).toMatchObject({
      code: 0,
      stdout: `revoked token ${created.id}\n`,
      stderr: '',
    });
    // The server trusts a token it looked up for TOKEN_CACHE_MS: a revocation by another process shows within that.
    await expect
      .poll(async () => (await listSecrets(created.token)).status, {
        timeout: TOKEN_CACHE_MS + 1_000,
        interval: 100,
      })
      .toBe(401);
    expect((await listSecrets(inlineToken)).status).toBe(200);
    const after = JSON.parse(expectOk(await rotor(['token', 'list', '--json']))) as TokenJson[];
    expect(after.map((t) => t.id)).not.toContain(created.id);
    expectFailure(
      await rotor(['token', 'revoke', created.id]),
      1,
      /no live token/,
      new RegExp(created.id),
    );
  });

  it('refuses bad input with one line naming the field, issuing nothing', async () => {
    const notJson = join(dir, 'not-json.txt');
    writeFileSync(notJson, 'path: tok/*');
    const listBefore = expectOk(await rotor(['token', 'list', '--json']));
    const results = await Promise.all([
      rotor(['token', 'create', '--policy', '[{"path": "tok/*", "capabilities": ["fly"]}]']),
      rotor(['token', 'create', '--policy', '[{"capabilities": ["read"]}]']),
      rotor(['token', 'create', '--policy', join(dir, 'missing.json')]),
      rotor(['token', 'create', '--policy', notJson]),
      rotor(['token', 'create', '--policy', policyFile, '--ttl', 'soon']),
      rotor(['token', 'create']),
      rotor(['token', 'revoke', 'not-an-id!']),
    ]);
    const [capability, path, missing, garbage, ttl, noPolicy, badId] = results as [
      CliResult,
      CliResult,
      CliResult,
      CliResult,
      CliResult,
      CliResult,
      CliResult,
    ];
    expectFailure(capability, 1, /policy/, /capabilities/, /"fly"/);
    expectFailure(path, 1, /policy/, /path/);
    expectFailure(missing, 1, /--policy/, /missing\.json/, /ENOENT/);
    expectFailure(garbage, 1, /--policy/, /JSON/, /not-json\.txt/);
    expectFailure(ttl, 1, /ttl/, /duration/);
    expectFailure(noPolicy, 2, /--policy/);
    expectFailure(badId, 2, /token id/);
    expect(expectOk(await rotor(['token', 'list', '--json']))).toBe(listBefore);
  });
});
