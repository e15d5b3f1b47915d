import { Command } from 'commander';
import { RotorError } from '../../core/errors.js';
import { DRIFT_FAILURES } from '../../engine/drift-check.js';
import { outcomeJson } from '../../service/representations.js';
import { withRotor } from '../cli-context.js';
import { type CliIo, printJson } from '../output.js';
import { assertLocalMode } from '../remote-target.js';
import { describeOutcome, FAILED_RESULTS } from './rotate-command.js';

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
      assertLocalMode('run');
      const summary = await withRotor(({ engine }) => engine.runOnce());
      const failed = summary.outcomes.filter((o) => FAILED_RESULTS.has(o.result));
      const drifted = summary.checks.filter((c) => DRIFT_FAILURES.has(c.status));
      if (flags.json) {
        printJson(io, {
          outcomes: summary.outcomes.map(outcomeJson),
          deferred: summary.deferred,
          checks: summary.checks,
          failed: failed.length,
          drifted: drifted.length,
        });
      } else {
        for (const outcome of summary.outcomes)
          io.stdout(`${describeOutcome(outcomeJson(outcome))}\n`);
        for (const d of summary.deferred) io.stdout(`${d.secret}: deferred (${d.reason})\n`);
        for (const c of drifted) io.stdout(`${c.name}: check ${c.status}: ${c.message ?? ''}\n`);
        io.stdout(
          `${summary.outcomes.length - failed.length} done, ${failed.length} failed, ${summary.deferred.length} deferred, ${summary.checks.length - drifted.length}/${summary.checks.length} checks passed\n`,
        );
      }
      const problems = [
        ...failed.map((o) => `${o.rotation.secretName} (${o.error ?? o.result})`),
        ...drifted.map((c) => `${c.name} (check ${c.status})`),
      ];
      if (problems.length > 0) {
        throw new RotorError(
          'ERR_ROTATION_FAILED',
          `${failed.length} rotation(s) failed and ${drifted.length} check(s) failed: ${problems.join('; ')}`,
        );
      }
    });
}
