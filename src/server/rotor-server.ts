import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { TokenService } from '../access/token-service.js';
import { RotorError } from '../core/errors.js';
import { createAlerter } from '../engine/alerter.js';
import { newLeaseOwner } from '../engine/lease-owner.js';
import type { Logger } from '../engine/logger.js';
import { RotationEngine } from '../engine/rotation-engine.js';
import { openRotor } from '../service/open-rotor.js';
import type { RotorEnvironment } from '../service/rotor-environment.js';
import { SecretService } from '../service/secret-service.js';
import { createApiServer } from './api-server.js';
import { EventFeed } from './event-feed.js';
import { FailureLimiter } from './failure-limiter.js';
import { SchedulerLoop } from './scheduler-loop.js';
import { ServerMetrics } from './server-metrics.js';
import type { ServerServices } from './server-services.js';

export interface RotorServerOptions {
  readonly env: RotorEnvironment;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly version: string;
  readonly tls?: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** Pause between two scheduler runs. */
  readonly intervalMs: number;
  readonly leaseMs?: number | undefined;
  /** Refused tokens allowed per client address and minute before 429. */
  readonly authFailuresPerMinute: number;
}

export interface RunningServer {
  readonly url: string;
  /** Graceful: no new requests or work, the run in progress finishes, the store closes. */
  close(): Promise<void>;
}

/** `rotor server`: the API, the event feed and the scheduler over one store. */
export async function startRotorServer(options: RotorServerOptions): Promise<RunningServer> {
  const tls = options.tls ? readTls(options.tls) : undefined;
  const { store, keyring } = await openRotor(options.env);
  const alerter = createAlerter(options.logger);
  const engine = new RotationEngine({
    store,
    keyring,
    alerter,
    owner: newLeaseOwner(),
    leaseMs: options.leaseMs,
  });
  const metrics = new ServerMetrics(store);
  const services: ServerServices = {
    store,
    secrets: new SecretService(store, keyring),
    tokens: new TokenService(store),
    engine,
    events: new EventFeed(store),
    metrics,
    limiter: new FailureLimiter({ max: options.authFailuresPerMinute, windowMs: 60_000 }),
    logger: options.logger,
    streams: new Set(),
  };
  const scheduler = new SchedulerLoop({
    engine,
    metrics,
    logger: options.logger,
    intervalMs: options.intervalMs,
  });
  try {
    await services.events.start();
    const app = await createApiServer(services, { version: options.version, tls });
    await app.listen({ host: options.host, port: options.port });
    scheduler.start();
    const { port } = app.server.address() as AddressInfo;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
    options.logger.info({ url }, 'rotor server listening');
    return {
      url,
      async close() {
        await Promise.all([app.close(), scheduler.stop()]);
        await services.events.stop();
        await store.close();
      },
    };
  } catch (error) {
    await scheduler.stop();
    await services.events.stop();
    await store.close();
    throw error;
  }
}

function readTls(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  } catch (error) {
    throw new RotorError(
      'ERR_INVALID_INPUT',
      `--tls-cert/--tls-key: cannot read ${(error as NodeJS.ErrnoException).path ?? 'the files'}`,
    );
  }
}
