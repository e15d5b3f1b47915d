import { Command } from 'commander';
import { RotorError } from '../../core/errors.js';
import type { RotationOutcome } from '../../engine/rotation-engine.js';
import { type CliIo, printJson } from '../output.js';
import { type OutcomeJson, withBackend } from '../rotor-backend.js';

/** Outcomes after which the command exits non-zero: the rotation did not do what was asked. */
export const FAILED_RESULTS: ReadonlySet<RotationOutcome['result']> = new Set([
  'rolled_back',
  'stalled',
  'abandoned',
]);

export function rotateCommand(io: CliIo): Command {
  return new Command('rotate')
    .description('rotate a secret now: generate, store, apply, verify, promote')
    .argument('<name>')
    .option('--dry-run', 'generate and verify a new value, then discard it without promoting')
    .option('--cancel', 'cancel the rotation in flight and roll it back')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { dryRun?: boolean; cancel?: boolean; json?: boolean }) => {
      if (flags.dryRun && flags.cancel)
        throw new RotorError('ERR_USAGE', 'give either --dry-run or --cancel, not both');
      const outcome = await withBackend((b) =>
        flags.cancel ? b.cancelRotation(name) : b.rotate(name, { dryRun: flags.dryRun ?? false }),
      );
      report(io, outcome, flags.json);
    });
}

export function rollbackCommand(io: CliIo): Command {
  return new Command('rollback')
    .description('during grace, make the previous version current again (through the rotator)')
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      report(io, await withBackend((b) => b.rollback(name)), flags.json);
    });
}

export function describeOutcome(outcome: OutcomeJson): string {
  const { name } = outcome;
  switch (outcome.result) {
    case 'promoted':
      return outcome.kind === 'rollback'
        ? `${name}: rolled back to version ${outcome.toVersion} (rotation ${outcome.rotation})`
        : `${name}: rotated from version ${outcome.fromVersion} to ${outcome.toVersion} (rotation ${outcome.rotation})`;
    case 'retired':
      return `${name}: retired version ${outcome.toVersion} (grace over)`;
    case 'dry_run':
      return `${name}: dry run verified version ${outcome.toVersion} and discarded it; current stays ${outcome.fromVersion}`;
    case 'cancelled':
      return `${name}: rotation ${outcome.rotation} cancelled and rolled back; current stays ${outcome.fromVersion}`;
    case 'rolled_back':
      return `${name}: rotation ${outcome.rotation} failed and was rolled back: ${outcome.error ?? 'unknown error'}`;
    case 'stalled':
      return `${name}: rotation ${outcome.rotation} is stuck in ${outcome.state} and will be retried: ${outcome.error ?? ''}`;
    case 'abandoned':
      return `${name}: rotation ${outcome.rotation} was taken over by another process`;
  }
}

function report(io: CliIo, outcome: OutcomeJson, json: boolean | undefined): void {
  if (json) printJson(io, outcome);
  else io.stdout(`${describeOutcome(outcome)}\n`);
  if (FAILED_RESULTS.has(outcome.result)) {
    throw new RotorError('ERR_ROTATION_FAILED', `rotation of ${outcome.name} did not complete`);
  }
}
