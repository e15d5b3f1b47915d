import { Command } from 'commander';
import { RotorError } from '../../core/errors.js';
import type { RotationOutcome } from '../../engine/rotation-engine.js';
import { CLI_ACTOR, withRotor } from '../cli-context.js';
import { type CliIo, printJson } from '../output.js';

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
      const outcome = await withRotor(({ engine }) =>
        flags.cancel
          ? engine.cancel(name, CLI_ACTOR)
          : engine.rotate(name, CLI_ACTOR, { dryRun: flags.dryRun }),
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
      report(io, await withRotor(({ engine }) => engine.rollback(name, CLI_ACTOR)), flags.json);
    });
}

export function outcomeJson(outcome: RotationOutcome) {
  const { rotation } = outcome;
  return {
    name: rotation.secretName,
    rotation: rotation.id,
    kind: rotation.kind,
    state: rotation.state,
    result: outcome.result,
    fromVersion: rotation.fromVersion,
    toVersion: rotation.toVersion,
    error: outcome.error ?? null,
  };
}

export function describeOutcome(outcome: RotationOutcome): string {
  const { rotation } = outcome;
  const name = rotation.secretName;
  switch (outcome.result) {
    case 'promoted':
      return rotation.kind === 'rollback'
        ? `${name}: rolled back to version ${rotation.toVersion} (rotation ${rotation.id})`
        : `${name}: rotated from version ${rotation.fromVersion} to ${rotation.toVersion} (rotation ${rotation.id})`;
    case 'retired':
      return `${name}: retired version ${rotation.toVersion} (grace over)`;
    case 'dry_run':
      return `${name}: dry run verified version ${rotation.toVersion} and discarded it; current stays ${rotation.fromVersion}`;
    case 'cancelled':
      return `${name}: rotation ${rotation.id} cancelled and rolled back; current stays ${rotation.fromVersion}`;
    case 'rolled_back':
      return `${name}: rotation ${rotation.id} failed and was rolled back: ${outcome.error ?? 'unknown error'}`;
    case 'stalled':
      return `${name}: rotation ${rotation.id} is stuck in ${rotation.state} and will be retried: ${outcome.error ?? ''}`;
    case 'abandoned':
      return `${name}: rotation ${rotation.id} was taken over by another process`;
  }
}

function report(io: CliIo, outcome: RotationOutcome, json: boolean | undefined): void {
  if (json) printJson(io, outcomeJson(outcome));
  else io.stdout(`${describeOutcome(outcome)}\n`);
  if (FAILED_RESULTS.has(outcome.result)) {
    throw new RotorError(
      'ERR_ROTATION_FAILED',
      `rotation of ${outcome.rotation.secretName} did not complete`,
    );
  }
}
