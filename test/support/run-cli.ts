import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROTOR_BIN = fileURLToPath(new URL('../../bin/rotor', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly stdin?: string;
  readonly timeoutMs?: number;
}

/** Runs the built `bin/rotor` as a child process, the way a user does. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  // The child sees only the ROTOR_* variables the test gives it, never the developer's own.
  const inherited = Object.entries(process.env).filter(([key]) => !key.startsWith('ROTOR_'));
  const env = Object.fromEntries(
    [...inherited, ...Object.entries(options.env ?? {})].filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ROTOR_BIN, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}
