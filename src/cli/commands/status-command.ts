import { Command } from 'commander';
import { secretHealth } from '../../core/secret-health.js';
import { type CliIo, printJson, printTable } from '../output.js';
import { type RotationJson, type SummaryJson, withBackend } from '../rotor-backend.js';

export function statusCommand(io: CliIo): Command {
  return new Command('status')
    .description(
      'every secret with its age, last and next rotation, and state (ok, rotating, in-grace, overdue, failing, needs-attention)',
    )
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const now = new Date();
      const rows = await withBackend(async (b) =>
        statusRows(await b.listSecrets(), await b.unfinishedRotations(), now),
      );
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

function statusRows(
  secrets: readonly SummaryJson[],
  unfinished: readonly RotationJson[],
  now: Date,
) {
  // A retirement in flight only ends a grace period; the secret's value is not rotating.
  const inFlight = new Map(unfinished.filter((r) => r.kind !== 'retire').map((r) => [r.name, r]));
  return secrets.map((s) => ({
    name: s.name,
    type: s.type,
    currentVersion: s.currentVersion,
    ageSeconds: Math.floor((now.getTime() - Date.parse(s.lastRotatedAt ?? s.createdAt)) / 1000),
    lastRotationAt: s.lastRotatedAt,
    nextRotationAt: s.nextRotationAt,
    failures: s.failureCount,
    state: secretHealth(
      {
        state: s.state,
        failureCount: s.failureCount,
        nextRotationAt: dateOrNull(s.nextRotationAt),
        graceUntil: dateOrNull(s.graceUntil),
      },
      inFlight.get(s.name),
      now,
    ),
  }));
}

function dateOrNull(iso: string | null): Date | null {
  return iso === null ? null : new Date(iso);
}

function humanAge(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}
