import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/engine/logger.js';
import { startRotorServer } from '../../src/server/rotor-server.js';
import { initRotor } from '../../src/service/open-rotor.js';
import { type RotorEnvironment, resolveEnvironment } from '../../src/service/rotor-environment.js';
import type { StoreDialect } from '../../src/store/store.js';
import { createStoreLocation, type StoreLocation } from './test-stores.js';

export interface TestServer {
  /** Base URL such as http://127.0.0.1:41234. */
  readonly url: string;
  /** The admin token `rotor init` issued. */
  readonly adminToken: string;
  readonly env: RotorEnvironment;
  readonly location: StoreLocation;
  /** Environment for a `rotor` CLI child bound to this server's home and store. */
  readonly cliEnv: Readonly<Record<string, string>>;
  /** Graceful shutdown, then the temp home and store are removed. */
  close(): Promise<void>;
}

export interface TestServerOptions {
  readonly dialect?: StoreDialect;
  /** Pause between scheduler runs; long by default so tests drive rotations themselves. */
  readonly intervalMs?: number;
  readonly authFailuresPerMinute?: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

/** An initialised Rotor and `rotor server` running in this process on a free loopback port. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const home = mkdtempSync(join(tmpdir(), 'rotor-server-'));
  const location = await createStoreLocation(options.dialect ?? 'sqlite', 'server');
  const env = resolveEnvironment({ ROTOR_HOME: home, ROTOR_STORE: location.url });
  const { adminToken } = await initRotor(env);
  const server = await startRotorServer({
    env,
    host: '127.0.0.1',
    port: 0,
    logger: createLogger(process.env.ROTOR_TEST_LOG_LEVEL ?? 'silent'),
    version: 'test',
    tls: options.tls,
    intervalMs: options.intervalMs ?? 3_600_000,
    authFailuresPerMinute: options.authFailuresPerMinute ?? 1_000_000,
  });
  return {
    url: server.url,
    adminToken: adminToken.token,
    env,
    location,
    cliEnv: { ROTOR_HOME: home, ROTOR_STORE: location.url },
    async close() {
      await server.close();
      await location.destroy();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
