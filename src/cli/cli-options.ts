import { InvalidArgumentError } from 'commander';
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
  readonly grace?: string;
  readonly maxVersions?: number;
  readonly manual?: boolean;
}

export function policyFromFlags(flags: PolicyFlags): Record<string, unknown> {
  const policy: Record<string, unknown> = {};
  if (flags.schedule !== undefined) policy.schedule = flags.schedule;
  if (flags.timezone !== undefined) policy.timezone = flags.timezone;
  if (flags.grace !== undefined) policy.grace = flags.grace;
  if (flags.maxVersions !== undefined) policy.maxVersions = flags.maxVersions;
  if (flags.manual !== undefined) policy.manual = flags.manual;
  return policy;
}
