import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScramPostgres {
  readonly port: number;
  /** The superuser's URL, password included. */
  readonly adminUrl: string;
  readonly superuser: { readonly username: string; readonly password: string };
  /** The server log (every statement when started with `logStatements`). */
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface ScramPostgresOptions {
  /** `log_statement = all`, into {@link ScramPostgres.logFile}. */
  readonly logStatements?: boolean;
}

/**
 * A throwaway PostgreSQL cluster that demands SCRAM-SHA-256 passwords from
 * every login (the machine's own cluster trusts everyone, so a login there
 * proves nothing). It runs as the `postgres` OS user when the tests run as
 * root, listens on 127.0.0.1 on a free port, and `stop()` removes it; so does
 * process exit. Commands are printed only when starting fails.
 */
export async function startScramPostgres(
  options: ScramPostgresOptions = {},
): Promise<ScramPostgres> {
  const bin = postgresBinDir();
  const transcript: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'rotor-scram-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const password = randomBytes(18).toString('base64url');
  let started = false;

  const stopSync = () => {
    if (started) {
      started = false;
      try {
        execFileSync(...asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']), {
          stdio: 'ignore',
        });
      } catch {
        // Already stopped.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopSync);
  const stop = async () => {
    process.off('exit', stopSync);
    stopSync();
  };

  const run = async (command: string, args: string[]) => {
    const [file, argv] = asPostgres(join(bin, command), args);
    transcript.push(`$ ${[file, ...argv].join(' ')}`);
    const output = await new Promise<string>((resolve, reject) => {
      execFile(file, argv, { timeout: 60_000 }, (error, stdout, stderr) => {
        const text = `${stdout}${stderr}`.trim();
        if (error) reject(Object.assign(error, { output: text }));
        else resolve(text);
      });
    });
    if (output) transcript.push(output);
  };

  try {
    if (isRoot()) {
      const { uid, gid } = postgresUser();
      await chown(dir, uid, gid);
    }
    const pwfile = join(dir, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (isRoot()) {
      const { uid, gid } = postgresUser();
      await chown(pwfile, uid, gid);
    }
    await run('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=scram-sha-256',
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    rmSync(pwfile);
    const port = await freePort();
    const settings = [
      `-p ${port}`,
      `-k '${dir}'`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c logging_collector=off',
      ...(options.logStatements ? ['-c log_statement=all'] : []),
    ];
    started = true;
    await run('pg_ctl', [
      '-D',
      data,
      '-l',
      logFile,
      '-o',
      settings.join(' '),
      '-w',
      '-t',
      '30',
      'start',
    ]);
    return {
      port,
      adminUrl: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      superuser: { username: 'postgres', password },
      logFile,
      stop,
    };
  } catch (error) {
    const output = (error as { output?: string }).output;
    if (output) transcript.push(output);
    if (existsSync(logFile)) transcript.push(`--- ${logFile}`, readFileSync(logFile, 'utf8'));
    console.error(`startScramPostgres failed:\n${transcript.join('\n')}`);
    await stop();
    throw error;
  }
}

/** The newest PostgreSQL under /usr/lib/postgresql (or ROTOR_TEST_PG_BIN). */
function postgresBinDir(): string {
  const override = process.env.ROTOR_TEST_PG_BIN;
  if (override) return override;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((version) => existsSync(join(root, version, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const [newest] = versions;
  if (newest === undefined) {
    throw new Error(`no PostgreSQL server binaries under ${root}; set ROTOR_TEST_PG_BIN`);
  }
  return join(root, newest, 'bin');
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** initdb and postgres refuse to run as root: run them as the postgres OS user instead. */
function asPostgres(file: string, args: string[]): [string, string[]] {
  if (!isRoot()) return [file, args];
  return ['runuser', ['-u', 'postgres', '--', file, ...args]];
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
