import { RotorError } from './errors.js';

const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;
const DURATION = /^(\d+(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+)(ms|s|m|h|d|w)/g;

/** True when `text` looks like a duration (`90s`, `12h`, `1d12h`) rather than a cron expression. */
export function isDuration(text: string): boolean {
  return DURATION.test(text);
}

/**
 * Parses `30d`, `12h`, `90s`, `1h30m`, `500ms` into milliseconds.
 * `field` names the option in the error so the user knows what to fix.
 */
export function parseDuration(text: string, field: string): number {
  if (!isDuration(text)) {
    throw new RotorError(
      'ERR_INVALID_POLICY',
      `${field}: expected a duration such as 90s, 15m, 12h, 30d or 1w (got ${JSON.stringify(text.slice(0, 40))})`,
    );
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  if (!Number.isSafeInteger(total)) {
    throw new RotorError('ERR_INVALID_POLICY', `${field}: duration ${text} is too large`);
  }
  return total;
}

/** Formats milliseconds with the largest exact unit: 2592000000 -> `30d`. */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms > 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
