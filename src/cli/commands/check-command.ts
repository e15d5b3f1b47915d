import { Command } from 'commander';
import { RotorError } from '../../core/errors.js';
import { checkDrift, DRIFT_FAILURES } from '../../engine/drift-check.js';
import { CLI_ACTOR, withRotor } from '../cli-context.js';
import { type CliIo, printJson, printTable } from '../output.js';
import { assertLocalMode } from '../remote-target.js';

export function checkCommand(io: CliIo): Command {
  return new Command('check')
    .description(
      "log in with each secret's current value on its target; exit 1 if any is rejected or unreachable",
    )
    .argument('[names...]', 'secrets to check (default: all)')
    .option('--json', 'print JSON')
    .action(async (names: string[], flags: { json?: boolean }) => {
      assertLocalMode('check');
      const results = await withRotor(({ store, keyring, alerter }) =>
        checkDrift(store, keyring, alerter, names, CLI_ACTOR),
      );
      if (flags.json) printJson(io, results);
      else {
        printTable(
          io,
          ['NAME', 'VERSION', 'STATUS', 'DETAIL'],
          results.map((r) => [r.name, String(r.version), r.status, r.message]),
        );
      }
      const failed = results.filter((r) => DRIFT_FAILURES.has(r.status));
      if (failed.length > 0) {
        throw new RotorError(
          'ERR_TARGET_AUTH',
          `${failed.length} secret(s) failed the check: ${failed.map((r) => `${r.name} (${r.status})`).join(', ')}`,
        );
      }
    });
}
