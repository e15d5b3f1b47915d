import { Command } from 'commander';
import { RotorError } from '../../core/errors.js';
import { withRotor } from '../cli-context.js';
import { type CliIo, printJson } from '../output.js';
import { describeOutcome, FAILED_RESULTS, outcomeJson } from './rotate-command.js';

export function runCommand(io: CliIo): Command {
  return new Command('run')
    .description(
      'process all due work (rotations, grace expiries, crashed rotations) and exit; for cron',
    )
    .option('--once', 'run once and exit (required; `rotor server` runs continuously)')
    .option('--json', 'print JSON')
    .action(async (flags: { once?: boolean; json?: boolean }) => {
      if (!flags.once)
        throw new RotorError(
          'ERR_USAGE',
          'rotor run needs --once (the long-running mode is `rotor server`)',
        );
      const summary = await withRotor(({ engine }) => engine.runOnce());
      const failed = summary.outcomes.filter((o) => FAILED_RESULTS.has(o.result));
      if (flags.json) {
        printJson(io, {
          outcomes: summary.outcomes.map(outcomeJson),
          deferred: summary.deferred,
          failed: failed.length,
        });
      } else {
        for (const outcome of summary.outcomes) io.stdout(`${describeOutcome(outcome)}\n`);
        for (const d of summary.deferred) io.stdout(`${d.secret}: deferred (${d.reason})\n`);
        io.stdout(
          `${summary.outcomes.length - failed.length} done, ${failed.length} failed, ${summary.deferred.length} deferred\n`,
        );
      }
      if (failed.length > 0) {
        throw new RotorError(
          'ERR_ROTATION_FAILED',
          `${failed.length} rotation(s) failed: ${failed.map((o) => `${o.rotation.secretName} (${o.error ?? o.result})`).join('; ')}`,
        );
      }
    });
}
