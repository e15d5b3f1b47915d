import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { isRotorError } from '../../core/errors.js';
import { initRotor } from '../../service/open-rotor.js';
import { outcomeJson } from '../../service/representations.js';
import { resolveEnvironment } from '../../service/rotor-environment.js';
import { CLI_ACTOR, withRotor } from '../cli-context.js';
import { integerOption } from '../cli-options.js';
import { type CliIo, printTable } from '../output.js';
import { assertLocalMode } from '../remote-target.js';
import { describeOutcome } from './rotate-command.js';

const DEMO_SECRET = 'demo/api-key';

export function demoCommand(io: CliIo): Command {
  return new Command('demo')
    .description(
      `initialise Rotor here if needed and watch a demo secret (${DEMO_SECRET}) rotate on schedule`,
    )
    .option('--rotations <n>', 'how many scheduled rotations to watch', integerOption(1, 100), 3)
    .action(async (flags: { rotations: number }) => {
      assertLocalMode('demo');
      try {
        const result = await initRotor(resolveEnvironment(process.env));
        io.stdout(
          `initialised Rotor in ${result.home} (store ${result.store})\nadmin token, shown once: ${result.adminToken.token}\n\n`,
        );
      } catch (error) {
        if (!isRotorError(error) || error.code !== 'ERR_ALREADY_INITIALISED') throw error;
      }
      await withRotor(async ({ secrets, engine, store }) => {
        if (!(await store.getSecret(DEMO_SECRET))) {
          await secrets.create(
            {
              name: DEMO_SECRET,
              type: 'api-key',
              config: { prefix: 'rk_demo_' },
              policy: { schedule: '2s', grace: '3s' },
            },
            CLI_ACTOR,
          );
          io.stdout(
            `created ${DEMO_SECRET}: rotates every 3s, the previous key stays valid for 1s after each rotation\n`,
          );
        }
        let rotated = 0;
        while (rotated < flags.rotations) {
          const due = (await store.getSecret(DEMO_SECRET))?.nextRotationAt;
          await sleep(Math.max(0, (due?.getTime() ?? Date.now()) - Date.now()) + 50);
          for (const outcome of (await engine.runOnce(CLI_ACTOR)).outcomes) {
            if (outcome.result !== 'promoted') {
              io.stdout(`${describeOutcome(outcomeJson(outcome))}\n`);
              continue;
            }
            rotated++;
            const current = await secrets.reveal(DEMO_SECRET, { stage: 'current' }, CLI_ACTOR);
            io.stdout(
              `${describeOutcome(outcomeJson(outcome))}; new key ${current.value.reveal().slice(0, 12)}…\n`,
            );
          }
        }
        io.stdout(`\n${DEMO_SECRET} versions:\n`);
        printTable(
          io,
          ['VERSION', 'STAGES', 'STATE', 'CREATED'],
          (await secrets.history(DEMO_SECRET)).map((v) => [
            String(v.number),
            v.stage ?? 'deprecated',
            v.state,
            v.createdAt.toISOString(),
          ]),
        );
        io.stdout(
          '\nnext: bin/rotor status, bin/rotor audit verify, bin/rotor secret get demo/api-key\n',
        );
      });
    });
}
