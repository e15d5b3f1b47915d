import { Command } from 'commander';
import { RotorError } from '../../core/errors.js';
import { assertSecretName } from '../../core/secret-name.js';
import { integerOption } from '../cli-options.js';
import { type CliIo, printJson, printTable } from '../output.js';
import { withBackend } from '../rotor-backend.js';

export function auditCommand(io: CliIo): Command {
  const audit = new Command('audit').description('the tamper-evident audit trail');

  audit
    .command('verify')
    .description('walk the hash chain; exit 1 naming the first broken event')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const verdict = await withBackend((b) => b.verifyAudit());
      if (flags.json) printJson(io, verdict);
      else if (verdict.intact)
        io.stdout(
          `audit chain intact: ${verdict.events} events, head ${verdict.headHash.slice(0, 16)}…\n`,
        );
      if (!verdict.intact) {
        throw new RotorError(
          'ERR_AUDIT_BROKEN',
          `audit chain broken at event ${verdict.brokenAt}: ${verdict.reason}`,
        );
      }
    });

  audit
    .command('tail')
    .description('the newest audit events')
    .option('-n, --lines <n>', 'how many events', integerOption(1, 100_000), 20)
    .option('--secret <name>', 'only events about this secret')
    .option('--json', 'print JSON')
    .action(async (flags: { lines: number; secret?: string; json?: boolean }) => {
      if (flags.secret !== undefined) assertSecretName(flags.secret);
      const rows = await withBackend((b) => b.auditTail(flags.lines, flags.secret));
      if (flags.json) {
        printJson(io, rows);
        return;
      }
      printTable(
        io,
        ['SEQ', 'AT', 'ACTOR', 'ACTION', 'SECRET', 'VERSION', 'OUTCOME', 'DETAILS'],
        rows.map((r) => [
          String(r.seq),
          r.at,
          r.actor,
          r.action,
          r.secret,
          r.version === null ? null : String(r.version),
          r.outcome,
          detailsText(r.details),
        ]),
      );
    });

  return audit;
}

function detailsText(details: unknown): string {
  return Object.entries(details ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}
