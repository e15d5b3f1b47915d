import { Command } from 'commander';
import { initRotor } from '../../service/open-rotor.js';
import { resolveEnvironment } from '../../service/rotor-environment.js';
import { type CliIo, printJson } from '../output.js';
import { assertLocalMode } from '../remote-target.js';

export function initCommand(io: CliIo): Command {
  return new Command('init')
    .description(
      'create the data directory, the store and the master key; print the admin token once',
    )
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      assertLocalMode('init');
      const result = await initRotor(resolveEnvironment(process.env));
      if (flags.json) {
        printJson(io, {
          home: result.home,
          store: result.store,
          adminToken: result.adminToken.token,
        });
        return;
      }
      io.stdout(
        [
          `initialised Rotor in ${result.home}`,
          `  store:      ${result.store}`,
          `  master key: ${result.keyFile ? `${result.keyFile} (mode 0600; back it up: without it no value can be read)` : 'from ROTOR_MASTER_KEY'}`,
          'admin token (shown only now; keep it somewhere safe):',
          `  ${result.adminToken.token}`,
          '',
        ].join('\n'),
      );
    });
}
