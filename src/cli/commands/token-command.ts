import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { parseTokenPolicy, type TokenPolicy } from '../../access/token-policy.js';
import { RotorError } from '../../core/errors.js';
import { type CliIo, printJson, printTable } from '../output.js';
import { withBackend } from '../rotor-backend.js';

const POLICY_EXAMPLE = '[{"path": "prod/db/*", "capabilities": ["read"]}]';

export function tokenCommand(io: CliIo): Command {
  const token = new Command('token').description('issue, list and revoke API tokens');

  token
    .command('create')
    .description('issue a token for the HTTP API; its value is printed this once only')
    .requiredOption(
      '--policy <file|json>',
      `rules as JSON or a file holding them, e.g. '${POLICY_EXAMPLE}' (capabilities: read, list, write, rotate, admin)`,
    )
    .option('--name <name>', 'a label to recognise the token by')
    .option('--ttl <duration>', 'expire after this long, e.g. 30d (default: never)')
    .option('--json', 'print JSON')
    .action(async (flags: { policy: string; name?: string; ttl?: string; json?: boolean }) => {
      const policy = readPolicy(flags.policy);
      const created = await withBackend((b) =>
        b.createToken({ name: flags.name, policy, ttl: flags.ttl }),
      );
      if (flags.json) {
        printJson(io, created);
        return;
      }
      io.stdout(
        [
          `created token ${created.id} (${created.name}); expires ${created.expiresAt ?? 'never'}`,
          'token (shown only now; keep it somewhere safe):',
          `  ${created.token}`,
          '',
        ].join('\n'),
      );
    });

  token
    .command('list')
    .description('live tokens with their policies (never their values)')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const tokens = await withBackend((b) => b.listTokens());
      if (flags.json) {
        printJson(io, tokens);
        return;
      }
      printTable(
        io,
        ['ID', 'NAME', 'POLICY', 'CREATED', 'EXPIRES'],
        tokens.map((t) => [
          t.id,
          t.name,
          t.policy.map((rule) => `${rule.path}:${rule.capabilities.join(',')}`).join(' '),
          t.createdAt,
          t.expiresAt ?? 'never',
        ]),
      );
    });

  token
    .command('revoke')
    .description('revoke a token: a running server refuses it within 1 s')
    .argument('<id>', 'the token id, as `rotor token list` shows it', parseTokenId)
    .action(async (id: string) => {
      await withBackend((b) => b.revokeToken(id));
      io.stdout(`revoked token ${id}\n`);
    });

  return token;
}

function parseTokenId(text: string): string {
  if (!/^[A-Za-z0-9]{1,64}$/.test(text)) {
    throw new InvalidArgumentError(
      'expected a token id: letters and digits, as `rotor token list` shows it',
    );
  }
  return text;
}

/** `--policy` is inline JSON when it starts like JSON, and a file name otherwise. */
function readPolicy(option: string): TokenPolicy {
  const inline = /^\s*[[{]/.test(option);
  let text = option;
  if (!inline) {
    try {
      text = readFileSync(option, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new RotorError(
        'ERR_INVALID_INPUT',
        `--policy: expected inline JSON or a readable file; cannot read ${JSON.stringify(option.slice(0, 200))} (${reason})`,
      );
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const source = inline ? '' : ` in ${JSON.stringify(option.slice(0, 200))}`;
    throw new RotorError(
      'ERR_INVALID_INPUT',
      `--policy: expected JSON such as '${POLICY_EXAMPLE}'${source} (${(error as Error).message})`,
    );
  }
  return parseTokenPolicy(parsed);
}
