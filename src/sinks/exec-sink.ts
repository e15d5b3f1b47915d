import { type ExecFileException, execFile } from 'node:child_process';
import { RotorError } from '../core/errors.js';
import type { SecretValue } from '../core/secret-value.js';
import type { ExecSink } from '../core/sink.js';
import type { SinkEvent } from './sink-event.js';

const TIMEOUT_MS = 30_000;
const MAX_OUTPUT = 64 * 1024;
/** Passed through from Rotor's environment; nothing else is, least of all ROTOR_MASTER_KEY or ROTOR_STORE. */
const INHERITED = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

/**
 * Runs the command without a shell. The event is in its environment
 * (ROTOR_EVENT, ROTOR_SECRET, ROTOR_VERSION, ROTOR_AT) and the value on its
 * stdin, never on its command line, which any local user can read in `ps`.
 */
export async function deliverExecSink(
  sink: ExecSink,
  event: SinkEvent,
  value: SecretValue,
): Promise<void> {
  const [program, ...args] = sink.command as [string, ...string[]];
  const input = value.revealBytes();
  try {
    await new Promise<void>((resolve, reject) => {
      const child = execFile(
        program,
        args,
        {
          env: environment(event),
          timeout: TIMEOUT_MS,
          killSignal: 'SIGKILL',
          maxBuffer: MAX_OUTPUT,
          windowsHide: true,
        },
        (error, _stdout, stderr) => {
          if (error) reject(failure(program, error, String(stderr)));
          else resolve();
        },
      );
      // A command that does not read its stdin closes it: EPIPE here is not a failure, its exit code is.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input);
    });
  } finally {
    // The child has exited by now, so the pipe no longer needs the bytes.
    input.fill(0);
  }
}

function environment(event: SinkEvent): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of INHERITED) if (process.env[name] !== undefined) env[name] = process.env[name];
  return {
    ...env,
    ROTOR_EVENT: event.event,
    ROTOR_SECRET: event.secret,
    ROTOR_VERSION: String(event.version),
    ROTOR_AT: event.at.toISOString(),
  };
}

function failure(program: string, error: ExecFileException, stderr: string): RotorError {
  const lastLine = stderr.trim().split('\n').at(-1) ?? '';
  let reason: string;
  if (error.code === 'ENOENT') reason = 'not found';
  else if (error.code === 'EACCES') reason = 'not executable';
  else if (error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
    reason = `killed for writing more than ${MAX_OUTPUT / 1024} KiB of output`;
  else if (error.killed) reason = `killed after ${TIMEOUT_MS / 1000}s without finishing`;
  else if (error.signal) reason = `killed by ${error.signal}`;
  else reason = `exited with code ${error.code}`;
  return new RotorError(
    'ERR_SINK_FAILED',
    `command ${program} ${reason}${lastLine ? `: ${lastLine}` : ''}`,
    { cause: error },
  );
}
