import { type Command, InvalidArgumentError } from 'commander';
import { RotorError } from '../core/errors.js';

/** A commander parser for an integer option within bounds. */
export function integerOption(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return value;
  };
}

/** Parses a `--config`-style JSON object option, naming the option when it is not one. */
export function parseJsonObject(text: string, option: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RotorError(
      'ERR_INVALID_CONFIG',
      `${option}: expected a JSON object (${(error as Error).message})`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RotorError(
      'ERR_INVALID_CONFIG',
      `${option}: expected a JSON object such as '{"length": 40}'`,
    );
  }
  return parsed as Record<string, unknown>;
}

/** The policy flags shared by `secret create` and `secret update`. */
export interface PolicyFlags {
  readonly schedule?: string;
  readonly timezone?: string;
  readonly window?: string;
  readonly jitter?: string;
  readonly minInterval?: string;
  readonly blackout?: string[];
  readonly grace?: string;
  readonly maxVersions?: number;
  readonly maxFailures?: number;
  readonly manual?: boolean;
  readonly checkEvery?: string;
  readonly sinks?: unknown;
}

export function addPolicyOptions(command: Command): Command {
  return command
    .option('--schedule <spec>', 'rotation interval (30d, 12h) or cron expression ("0 3 * * 1")')
    .option('--timezone <tz>', 'IANA time zone for a cron schedule and blackouts')
    .option('--window <duration>', 'how late after its scheduled time a rotation may still start')
    .option('--jitter <duration>', 'random delay added to each scheduled time')
    .option(
      '--min-interval <duration>',
      'never rotate on schedule sooner than this after the last rotation',
    )
    .option(
      '--blackout <period>',
      'no scheduled rotation starts in this period: "CRON for DURATION", e.g. "0 18 * * 5 for 62h" (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--grace <duration>', 'how long the previous version stays valid (default 1h)')
    .option(
      '--max-versions <n>',
      'versions kept with their value (default 10)',
      integerOption(2, 1000),
    )
    .option(
      '--max-failures <n>',
      'failed rotations in a row before needs-attention (default 5)',
      integerOption(1, 100),
    )
    .option('--manual', 'never rotate on a schedule')
    .option(
      '--check-every <duration>',
      'how often run --once checks the current value on its target (default 1h)',
    )
    .option(
      '--sinks <json>',
      `where each new current version is published, replacing the list ('[]' for none): ${SINKS_EXAMPLE}`,
      parseSinks,
    );
}

const SINKS_EXAMPLE = `'[{"type":"file","path":"/run/app/key","format":"env"}]'`;

/** JSON syntax only: the policy's schema checks each sink and names the field at fault. */
function parseSinks(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(
      `expected a JSON list of sinks such as ${SINKS_EXAMPLE} (${(error as Error).message})`,
    );
  }
}

export function policyFromFlags(flags: PolicyFlags): Record<string, unknown> {
  const policy: Record<string, unknown> = {};
  const copy = [
    'schedule',
    'timezone',
    'window',
    'jitter',
    'minInterval',
    'grace',
    'maxVersions',
    'maxFailures',
    'manual',
    'checkEvery',
    'sinks',
  ] as const;
  for (const key of copy) if (flags[key] !== undefined) policy[key] = flags[key];
  if (flags.blackout !== undefined) policy.blackout = flags.blackout.map(parseBlackout);
  return policy;
}

function parseBlackout(text: string): { start: string; duration: string } {
  const match = /^(.+?)\s+for\s+(\S+)$/.exec(text.trim());
  if (!match?.[1] || !match[2]) {
    throw new RotorError(
      'ERR_INVALID_POLICY',
      `--blackout: expected "CRON for DURATION" such as "0 18 * * 5 for 62h" (got ${JSON.stringify(text.slice(0, 60))})`,
    );
  }
  return { start: match[1], duration: match[2] };
}
