import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/sdk/api-client.js';
import { startTestServer, type TestServer } from '../support/rotor-server.js';

/**
 * `rotor/client` must load in an application that has none of the server's
 * packages. The built entry is imported through the package's `exports` in a
 * child Node whose module resolution refuses the server's code and packages,
 * and the drivers (which only the driver entry points may load).
 */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

const HOOKS = `
const BLOCKED = /\\/node_modules\\/(fastify|@fastify|fastify-[^/]+|kysely|better-sqlite3|pino|prom-client|pg|pg-pool|mysql2|ioredis)\\/|\\/dist\\/(server|store|engine|cli|service|rotators)\\//;
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (BLOCKED.test(resolved.url)) {
    throw new Error('blocked: ' + specifier + ' (' + resolved.url + ') from ' + context.parentURL);
  }
  return resolved;
}
`;

let server: TestServer;
let hooksDir: string;

beforeAll(async () => {
  server = await startTestServer();
  hooksDir = mkdtempSync(join(tmpdir(), 'rotor-sdk-imports-'));
  writeFileSync(join(hooksDir, 'hooks.mjs'), HOOKS);
  writeFileSync(
    join(hooksDir, 'register.mjs'),
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(hooksDir, 'hooks.mjs')).href)});\n`,
  );
});

afterAll(async () => {
  await server?.close();
  rmSync(hooksDir, { recursive: true, force: true });
});

function runBlocked(
  code: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(hooksDir, 'register.mjs')).href,
        '--input-type=module',
        '-e',
        code,
      ],
      { cwd: PACKAGE_ROOT, env: { PATH: process.env.PATH ?? '', ...env } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, stdout, stderr });
    });
  });
}

describe('rotor/client', () => {
  it('loads and reads a secret with the server code and packages unresolvable', async () => {
    const name = `sdk/imports-${randomBytes(3).toString('hex')}`;
    const admin = new ApiClient({ url: server.url, token: server.adminToken });
    await admin.request('POST', '/v1/secrets', {
      body: { name, type: 'api-key', policy: { manual: true } },
    });
    const result = await runBlocked(
      `
      import { createClient, RotorApiError } from 'rotor/client';
      const rotor = createClient({ url: process.env.URL, token: process.env.TOKEN });
      const entry = await rotor.get(process.env.NAME);
      await rotor.subscribed();
      const denied = await rotor.get('sdk/none').catch((e) => e instanceof RotorApiError && e.code);
      await rotor.close();
      console.log(JSON.stringify({ version: entry.version, denied }));
      `,
      { URL: server.url, TOKEN: server.adminToken, NAME: name },
    );
    expect(result.stderr).toBe('');
    // It exited by itself once closed (not killed at the timeout): nothing held the event loop.
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ version: 1, denied: 'ERR_SECRET_NOT_FOUND' });
  });

  it('the blocking is real: the pg entry point, which loads pg, is refused', async () => {
    const result = await runBlocked(`await import('rotor/client/pg');`);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/blocked: pg \(.*\/node_modules\/pg\//);
  });
});
