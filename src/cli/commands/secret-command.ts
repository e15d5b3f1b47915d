import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'commander';
import { RotorError } from '../../core/errors.js';
import {
  type SecretRecord,
  STAGES,
  type Stage,
  stageLabels,
  type VersionRecord,
} from '../../core/secret.js';
import { assertSecretType, type SecretType } from '../../rotators/rotator-registry.js';
import { selectorFor } from '../../service/secret-service.js';
import { CLI_ACTOR, withSecrets } from '../cli-context.js';
import {
  addPolicyOptions,
  integerOption,
  type PolicyFlags,
  parseJsonObject,
  policyFromFlags,
} from '../cli-options.js';
import { type CliIo, isoOrNull, printJson, printTable } from '../output.js';
import { readValueFromStdin } from '../read-stdin.js';

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
    const created = await withSecrets((s) =>
      s.create({ name, type, config, policy: policyFromFlags(flags), value }, CLI_ACTOR),
    );
    if (flags.json) printJson(io, secretJson(created));
    else
      io.stdout(
        `created ${created.name} (${created.type}) version 1; next rotation ${isoOrNull(created.nextRotationAt) ?? 'manual'}\n`,
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
      const read = await withSecrets((s) =>
        s.reveal(name, selectorFor(flags.stage, flags.version), CLI_ACTOR),
      );
      if (flags.json) {
        printJson(io, {
          name: read.name,
          version: read.version.number,
          stages: stageLabels(read.version),
          value: read.value.reveal(),
          createdAt: read.version.createdAt.toISOString(),
        });
      } else {
        io.stdout(`${read.value.reveal()}\n`);
      }
    });

  secret
    .command('put')
    .description('store a new value from standard input and make it current')
    .argument('<name>')
    .requiredOption('--value-stdin', 'read the value from standard input')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      const value = await readValueFromStdin();
      const version = await withSecrets((s) => s.put(name, value, CLI_ACTOR));
      if (flags.json) printJson(io, { name, ...versionJson(version) });
      else io.stdout(`stored ${name} version ${version.number} as current\n`);
    });

  secret
    .command('list')
    .description('list secrets (never values)')
    .option('--prefix <prefix>', 'only names starting with this')
    .option('--json', 'print JSON')
    .action(async (flags: { prefix?: string; json?: boolean }) => {
      const secrets = await withSecrets((s) => s.list(flags.prefix));
      if (flags.json) {
        printJson(
          io,
          secrets.map((s) => ({
            name: s.name,
            type: s.type,
            currentVersion: s.currentVersion,
            createdAt: s.createdAt.toISOString(),
            nextRotationAt: isoOrNull(s.nextRotationAt),
          })),
        );
        return;
      }
      printTable(
        io,
        ['NAME', 'TYPE', 'VERSION', 'CREATED', 'NEXT ROTATION'],
        secrets.map((s) => [
          s.name,
          s.type,
          String(s.currentVersion),
          s.createdAt.toISOString(),
          isoOrNull(s.nextRotationAt),
        ]),
      );
    });

  secret
    .command('history')
    .description("list a secret's versions (never values)")
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      const versions = await withSecrets((s) => s.history(name));
      if (flags.json) {
        printJson(io, versions.map(versionJson));
        return;
      }
      printTable(
        io,
        ['VERSION', 'STAGES', 'STATE', 'CREATED'],
        versions.map((v) => [
          String(v.number),
          stageLabels(v).join(',') || 'deprecated',
          v.state,
          v.createdAt.toISOString(),
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
    const updated = await withSecrets((s) => s.updatePolicy(name, policy, CLI_ACTOR));
    if (flags.json) printJson(io, secretJson(updated));
    else
      io.stdout(
        `updated ${name}; next rotation ${isoOrNull(updated.nextRotationAt) ?? 'manual'}\n`,
      );
  });

  secret
    .command('resume')
    .description('lift needs-attention: forget failures and rotate at the next run')
    .argument('<name>')
    .action(async (name: string) => {
      await withSecrets((s) => s.resume(name, CLI_ACTOR));
      io.stdout(`resumed ${name}; it rotates at the next run\n`);
    });

  secret
    .command('delete')
    .description('delete a secret and destroy all its versions')
    .argument('<name>')
    .option('--yes', 'do not ask for confirmation')
    .action(async (name: string, flags: { yes?: boolean }) => {
      if (!flags.yes) await confirmDeletion(name);
      await withSecrets((s) => s.delete(name, CLI_ACTOR));
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

function secretJson(secret: SecretRecord) {
  return {
    name: secret.name,
    type: secret.type,
    version: secret.lastVersion,
    config: secret.config,
    policy: secret.policy,
    createdAt: secret.createdAt.toISOString(),
    nextRotationAt: isoOrNull(secret.nextRotationAt),
  };
}

function versionJson(version: VersionRecord) {
  return {
    version: version.number,
    stages: stageLabels(version),
    state: version.state,
    createdAt: version.createdAt.toISOString(),
  };
}
