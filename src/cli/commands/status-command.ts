import { Command } from 'commander';
import { secretHealth } from '../../core/secret-health.js';
import { withRotor } from '../cli-context.js';
import { type CliIo, isoOrNull, printJson, printTable } from '../output.js';

export function statusCommand(io: CliIo): Command {
  return new Command('status')
    .description(
      'every secret with its age, last and next rotation, and state (ok, rotating, in-grace, overdue, failing, needs-attention)',
    )
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const now = new Date();
      const rows = await withRotor(async ({ store }) => {
        const inFlight = new Map(
          (await store.rotations.unfinished())
            .filter((r) => r.kind !== 'retire')
            .map((r) => [r.secretName, r]),
        );
        return (await store.listSecrets()).map((s) => ({
          name: s.name,
          type: s.type,
          currentVersion: s.currentVersion,
          ageSeconds: Math.floor(
            (now.getTime() - (s.lastRotatedAt ?? s.createdAt).getTime()) / 1000,
          ),
          lastRotationAt: isoOrNull(s.lastRotatedAt),
          nextRotationAt: isoOrNull(s.nextRotationAt),
          failures: s.failureCount,
          state: secretHealth(s, inFlight.get(s.name), now),
        }));
      });
      if (flags.json) {
        printJson(io, rows);
        return;
      }
      printTable(
        io,
        ['NAME', 'TYPE', 'VERSION', 'AGE', 'LAST ROTATION', 'NEXT ROTATION', 'STATE'],
        rows.map((r) => [
          r.name,
          r.type,
          String(r.currentVersion),
          humanAge(r.ageSeconds),
          r.lastRotationAt,
          r.nextRotationAt ?? 'manual',
          r.state,
        ]),
      );
    });
}

function humanAge(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}
