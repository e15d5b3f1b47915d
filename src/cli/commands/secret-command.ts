import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'commander';
import { RotorError } from '../../core/errors.js';
import { STAGES, type Stage } from '../../core/secret.js';
import { assertSecretType, type SecretType } from '../../rotators/rotator-registry.js';
import { selectorFor } from '../../service/secret-service.js';
import {
  addPolicyOptions,
  integerOption,
  type PolicyFlags,
  parseJsonObject,
  policyFromFlags,
} from '../cli-options.js';
import { type CliIo, printJson, printTable } from '../output.js';
import { readValueFromStdin } from '../read-stdin.js';
import { withBackend } from '../rotor-backend.js';

/** The config field that `--length` sets: characters for passwords (and database passwords), bytes of entropy otherwise. */
const LENGTH_FIELD: Readonly<Record<SecretType, string>> = {
  password: 'length',
  'api-key': 'bytes',
  'jwt-secret': 'bytes',
  random: 'bytes',
  postgres: 'passwordLength',
  mysql: 'passwordLength',
  redis: 'passwordLength',
};

interface CreateFlags extends PolicyFlags {
  type: string;
  length?: number;
  prefix?: string;
  config?: string;
  valueStdin?: boolean;
  json?: boolean;
}

export function secretCommand(io: CliIo): Command {
  const secret = new Command('secret').description('create, read and manage secrets');

  addPolicyOptions(
    secret
      .command('create')
      .description('create a secret with a generated (or given) first version')
      .argument('<name>', 'secret name, e.g. prod/db/app')
      .requiredOption('--type <type>', 'secret type: api-key, password, jwt-secret, random')
      .option(
        '--length <n>',
        'characters (password) or random bytes (other types)',
        integerOption(1, 4096),
      )
      .option('--prefix <prefix>', 'prefix for api-key values, e.g. rk_live_')
      .option('--config <json>', 'type config as a JSON object')
      .option('--value-stdin', 'read the first value from standard input instead of generating it')
      .option('--json', 'print JSON'),
  ).action(async (name: string, flags: CreateFlags) => {
    const type = flags.type;
    assertSecretType(type);
    const config = flags.config === undefined ? {} : parseJsonObject(flags.config, '--config');
    if (flags.length !== undefined) config[LENGTH_FIELD[type]] = flags.length;
    if (flags.prefix !== undefined) {
      if (type !== 'api-key')
        throw new RotorError('ERR_USAGE', `--prefix applies only to --type api-key (got ${type})`);
      config.prefix = flags.prefix;
    }
    const value = flags.valueStdin ? await readValueFromStdin() : undefined;
    const created = await withBackend((b) =>
      b.createSecret({ name, type, config, policy: policyFromFlags(flags), value }),
    );
    if (flags.json) printJson(io, created);
    else
      io.stdout(
        `created ${created.name} (${created.type}) version 1; next rotation ${created.nextRotationAt ?? 'manual'}\n`,
      );
  });

  secret
    .command('get')
    .description('print a version of a secret (the current one by default)')
    .argument('<name>')
    .addOption(new Option('--stage <stage>', 'which stage to read').choices(STAGES))
    .option('--version <n>', 'a version number', integerOption(1, Number.MAX_SAFE_INTEGER))
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { stage?: Stage; version?: number; json?: boolean }) => {
      const selector = selectorFor(flags.stage, flags.version);
      const read = await withBackend((b) => b.readSecret(name, selector));
      if (flags.json) printJson(io, read);
      else io.stdout(`${read.value}\n`);
    });

  secret
    .command('put')
    .description('store a new value from standard input and make it current')
    .argument('<name>')
    .requiredOption('--value-stdin', 'read the value from standard input')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      const value = await readValueFromStdin();
      const stored = await withBackend((b) => b.putSecret(name, value));
      if (flags.json) printJson(io, stored);
      else io.stdout(`stored ${name} version ${stored.version} as current\n`);
    });

  secret
    .command('list')
    .description('list secrets (never values)')
    .option('--prefix <prefix>', 'only names starting with this')
    .option('--json', 'print JSON')
    .action(async (flags: { prefix?: string; json?: boolean }) => {
      const secrets = await withBackend((b) => b.listSecrets(flags.prefix));
      if (flags.json) {
        printJson(io, secrets);
        return;
      }
      printTable(
        io,
        ['NAME', 'TYPE', 'VERSION', 'CREATED', 'NEXT ROTATION'],
        secrets.map((s) => [
          s.name,
          s.type,
          String(s.currentVersion),
          s.createdAt,
          s.nextRotationAt,
        ]),
      );
    });

  secret
    .command('history')
    .description("list a secret's versions (never values)")
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      const versions = await withBackend((b) => b.secretHistory(name));
      if (flags.json) {
        printJson(io, versions);
        return;
      }
      printTable(
        io,
        ['VERSION', 'STAGES', 'STATE', 'CREATED'],
        versions.map((v) => [
          String(v.version),
          v.stages.join(',') || 'deprecated',
          v.state,
          v.createdAt,
        ]),
      );
    });

  addPolicyOptions(
    secret
      .command('update')
      .description("change a secret's rotation policy (the next rotation is planned again)")
      .argument('<name>')
      .option('--json', 'print JSON'),
  ).action(async (name: string, flags: PolicyFlags & { json?: boolean }) => {
    const policy = policyFromFlags(flags);
    if (Object.keys(policy).length === 0) {
      throw new RotorError(
        'ERR_USAGE',
        'nothing to update: give at least one policy option such as --schedule 30d',
      );
    }
    const updated = await withBackend((b) => b.updatePolicy(name, policy));
    if (flags.json) printJson(io, updated);
    else io.stdout(`updated ${name}; next rotation ${updated.nextRotationAt ?? 'manual'}\n`);
  });

  secret
    .command('resume')
    .description('lift needs-attention: forget failures and rotate at the next run')
    .argument('<name>')
    .action(async (name: string) => {
      await withBackend((b) => b.resumeSecret(name));
      io.stdout(`resumed ${name}; it rotates at the next run\n`);
    });

  secret
    .command('delete')
    .description('delete a secret and destroy all its versions')
    .argument('<name>')
    .option('--yes', 'do not ask for confirmation')
    .action(async (name: string, flags: { yes?: boolean }) => {
      if (!flags.yes) await confirmDeletion(name);
      await withBackend((b) => b.deleteSecret(name));
      io.stdout(`deleted ${name}\n`);
    });

  return secret;
}

async function confirmDeletion(name: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new RotorError(
      'ERR_USAGE',
      `refusing to delete ${name} without --yes (standard input is not a terminal)`,
    );
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(
      `This destroys every version of ${name}. Type its name to confirm: `,
    );
    if (answer.trim() !== name)
      throw new RotorError('ERR_USAGE', `not deleted: confirmation did not match ${name}`);
  } finally {
    prompt.close();
  }
}
