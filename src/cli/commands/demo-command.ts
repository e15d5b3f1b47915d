import { Command } from 'commander';
import { isRotorError } from '../../core/errors.js';
import { initRotor } from '../../service/open-rotor.js';
import { resolveEnvironment } from '../../service/rotor-environment.js';
import { CLI_ACTOR, withSecrets } from '../cli-context.js';
import { type CliIo, printTable } from '../output.js';

const DEMO_SECRET = 'demo/api-key';

export function demoCommand(io: CliIo): Command {
  return new Command('demo')
    .description(`initialise Rotor here if needed and show a demo secret (${DEMO_SECRET})`)
    .action(async () => {
      try {
        const result = await initRotor(resolveEnvironment(process.env));
        io.stdout(
          `initialised Rotor in ${result.home}; admin token (shown once): ${result.adminToken.token}\n`,
        );
      } catch (error) {
        if (!isRotorError(error) || error.code !== 'ERR_ALREADY_INITIALISED') throw error;
      }
      await withSecrets(async (secrets) => {
        if (!(await secrets.list(DEMO_SECRET)).some((s) => s.name === DEMO_SECRET)) {
          await secrets.create(
            { name: DEMO_SECRET, type: 'api-key', config: { prefix: 'rk_demo_' } },
            CLI_ACTOR,
          );
        }
        const versions = await secrets.history(DEMO_SECRET);
        io.stdout(`${DEMO_SECRET}:\n`);
        printTable(
          io,
          ['VERSION', 'STAGES', 'CREATED'],
          versions.map((v) => [
            String(v.number),
            v.stage ?? 'deprecated',
            v.createdAt.toISOString(),
          ]),
        );
      });
    });
}
