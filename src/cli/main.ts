import { Command, CommanderError } from 'commander';
import { isRotorError } from '../core/errors.js';
import { auditCommand } from './commands/audit-command.js';
import { checkCommand } from './commands/check-command.js';
import { demoCommand } from './commands/demo-command.js';
import { initCommand } from './commands/init-command.js';
import { rollbackCommand, rotateCommand } from './commands/rotate-command.js';
import { runCommand } from './commands/run-command.js';
import { secretCommand } from './commands/secret-command.js';
import { serverCommand } from './commands/server-command.js';
import { statusCommand } from './commands/status-command.js';
import { tokenCommand } from './commands/token-command.js';
import { type CliIo, processIo } from './output.js';

const USAGE_EXIT = 2;
const VERSION = '0.1.0';

function buildProgram(io: CliIo): Command {
  const program = new Command('rotor')
    .description('Rotor: encrypted, versioned secrets rotated with zero downtime')
    .version(VERSION)
    .showSuggestionAfterError()
    // Root options only before the subcommand: `secret get --version 3` must reach `get`.
    .enablePositionalOptions();
  program.addCommand(initCommand(io));
  program.addCommand(secretCommand(io));
  program.addCommand(rotateCommand(io));
  program.addCommand(rollbackCommand(io));
  program.addCommand(runCommand(io));
  program.addCommand(serverCommand(io, VERSION));
  program.addCommand(statusCommand(io));
  program.addCommand(checkCommand(io));
  program.addCommand(auditCommand(io));
  program.addCommand(tokenCommand(io));
  program.addCommand(demoCommand(io));
  configureEverywhere(program, io);
  return program;
}

/**
 * Runs the CLI and returns its exit code. Errors become one line on stderr:
 * a stack trace helps nobody at a prompt, and may carry more than it should.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return 0;
    io.stderr(`rotor: ${error.message.replace(/^error: /, '')}\n`);
    return USAGE_EXIT;
  }
  if (process.env.ROTOR_DEBUG === '1' && error instanceof Error) io.stderr(`${error.stack}\n`);
  if (isRotorError(error)) {
    io.stderr(`rotor: ${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`rotor: unexpected error: ${message.split('\n')[0]} (set ROTOR_DEBUG=1 for details)\n`);
  return 1;
}

/** Commands added with addCommand do not inherit these settings, so set them on each. */
function configureEverywhere(command: Command, io: CliIo): void {
  command
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });
  for (const sub of command.commands) configureEverywhere(sub, io);
}
