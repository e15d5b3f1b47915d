import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { isDuration, parseDuration } from '../../core/duration.js';
import { RotorError } from '../../core/errors.js';
import { createLogger } from '../../engine/logger.js';
import { startRotorServer } from '../../server/rotor-server.js';
import { initRotor } from '../../service/open-rotor.js';
import { type RotorEnvironment, resolveEnvironment } from '../../service/rotor-environment.js';
import { leaseMsFromEnv } from '../cli-context.js';
import { integerOption } from '../cli-options.js';
import type { CliIo } from '../output.js';

interface ServerFlags {
  listen: { host: string; port: number };
  tlsCert?: string;
  tlsKey?: string;
  interval: number;
  init?: boolean;
  authFailures: number;
}

export const ADMIN_TOKEN_FILE = 'admin-token';

export function serverCommand(io: CliIo, version: string): Command {
  return new Command('server')
    .description('serve the HTTP API and run the scheduler until SIGTERM or SIGINT')
    .option(
      '--listen <host:port>',
      'address to listen on',
      parseListen,
      parseListen('127.0.0.1:8200'),
    )
    .option('--tls-cert <file>', 'PEM certificate chain: serve HTTPS')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--interval <duration>', 'pause between scheduler runs', parseInterval, 5_000)
    .option(
      '--auth-failures <n>',
      'refused tokens per address and minute before 429',
      integerOption(1, 1_000_000),
      20,
    )
    .option('--init', 'initialise Rotor first when it is not (the admin token goes to a 0600 file)')
    .action(async (flags: ServerFlags) => {
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
        throw new RotorError('ERR_USAGE', 'give both --tls-cert and --tls-key, or neither');
      }
      const env = resolveEnvironment(process.env);
      if (flags.init) await initialiseIfNeeded(env, io);
      const logger = createLogger(process.env.ROTOR_LOG_LEVEL ?? 'info');
      const server = await startRotorServer({
        env,
        host: flags.listen.host,
        port: flags.listen.port,
        logger,
        version,
        tls:
          flags.tlsCert && flags.tlsKey
            ? { certFile: flags.tlsCert, keyFile: flags.tlsKey }
            : undefined,
        intervalMs: flags.interval,
        leaseMs: leaseMsFromEnv(),
        authFailuresPerMinute: flags.authFailures,
      }).catch((error: NodeJS.ErrnoException) => {
        if (
          error.code === 'EADDRINUSE' ||
          error.code === 'EACCES' ||
          error.code === 'EADDRNOTAVAIL'
        ) {
          throw new RotorError(
            'ERR_LISTEN',
            `cannot listen on ${flags.listen.host}:${flags.listen.port}: ${error.code}`,
          );
        }
        throw error;
      });
      io.stdout(`Rotor listening on ${server.url} (API under /v1, docs at ${server.url}/docs)\n`);
      const tokenFile = join(env.home, ADMIN_TOKEN_FILE);
      if (existsSync(tokenFile)) io.stdout(`admin token: in ${tokenFile}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          resolve();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      io.stdout('shutting down: finishing work in progress\n');
      await server.close();
      io.stdout('stopped\n');
    });
}

async function initialiseIfNeeded(env: RotorEnvironment, io: CliIo): Promise<void> {
  const initialised =
    existsSync(env.keyFile) ||
    (env.defaultStore && existsSync(env.storeUrl.slice('sqlite:'.length)));
  if (initialised) return;
  const result = await initRotor(env);
  const tokenFile = join(env.home, ADMIN_TOKEN_FILE);
  writeFileSync(tokenFile, `${result.adminToken.token}\n`, { mode: 0o600, flag: 'wx' });
  io.stdout(`initialised Rotor in ${result.home} (store ${result.store})\n`);
}

function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65_535) {
    throw new InvalidArgumentError(
      'expected host:port such as 127.0.0.1:8200 or [::1]:8200 (port 0 picks a free one)',
    );
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

function parseInterval(text: string): number {
  if (!isDuration(text)) throw new InvalidArgumentError('expected a duration such as 5s or 1m');
  const ms = parseDuration(text, '--interval');
  if (ms < 100) throw new InvalidArgumentError('expected at least 100ms');
  return ms;
}
