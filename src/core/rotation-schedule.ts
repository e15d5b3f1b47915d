import { parseDuration } from './duration.js';
import type { Policy } from './policy.js';
import { nextScheduledAt, parseSchedule } from './schedule.js';

/** Uniform in [0, 1): injected so that schedule maths stays deterministic under test. */
export type Random = () => number;

export interface PlanInput {
  /** Plan the first scheduled time after this. */
  readonly from: Date;
  readonly lastRotatedAt: Date | null;
  readonly random: Random;
}

/**
 * When the scheduler should next rotate: the schedule's next time after
 * `from`, plus jitter, no sooner than `minInterval` after the last rotation,
 * and outside every blackout. Null for manual secrets and finished cron patterns.
 */
export function planNextRotation(policy: Policy, input: PlanInput): Date | null {
  if (policy.manual) return null;
  const scheduled = nextScheduledAt(
    parseSchedule(policy.schedule, policy.timezone, 'schedule'),
    input.from,
  );
  if (!scheduled) return null;
  let at = scheduled.getTime() + Math.floor(input.random() * ms(policy.jitter, 'jitter'));
  if (input.lastRotatedAt && policy.minInterval) {
    at = Math.max(at, input.lastRotatedAt.getTime() + ms(policy.minInterval, 'minInterval'));
  }
  return new Date(leaveBlackouts(policy, at));
}

export type DueDecision =
  | { readonly action: 'rotate' }
  | { readonly action: 'defer'; readonly until: Date | null; readonly reason: string };

/**
 * Whether a secret due at `dueAt` may rotate `now`, or when to look again:
 * a missed window waits for the next scheduled time, a blackout for its end,
 * a too-recent rotation for `minInterval`, a previous version for its grace.
 */
export function decideDue(
  policy: Policy,
  dueAt: Date,
  now: Date,
  lastRotatedAt: Date | null,
  random: Random,
  graceUntil: Date | null = null,
): DueDecision {
  const t = now.getTime();
  if (policy.window && t > dueAt.getTime() + ms(policy.window, 'window')) {
    return {
      action: 'defer',
      until: planNextRotation(policy, { from: now, lastRotatedAt, random }),
      reason: `missed its ${policy.window} window`,
    };
  }
  const blackoutEnd = leaveBlackouts(policy, t);
  if (blackoutEnd > t)
    return { action: 'defer', until: new Date(blackoutEnd), reason: 'inside a blackout period' };
  if (lastRotatedAt && policy.minInterval) {
    const earliest = lastRotatedAt.getTime() + ms(policy.minInterval, 'minInterval');
    if (earliest > t)
      return {
        action: 'defer',
        until: new Date(earliest),
        reason: `rotated less than ${policy.minInterval} ago`,
      };
  }
  // Rotating now would end the previous version's grace early and could lock out its users.
  if (graceUntil && graceUntil.getTime() > t) {
    return {
      action: 'defer',
      until: graceUntil,
      reason: 'the previous version is still in its grace period',
    };
  }
  return { action: 'rotate' };
}

const BACKOFF_BASE_MS = 60_000;
const BACKOFF_CAP_MS = 6 * 3_600_000;

/** Delay before retrying after `failures` consecutive failures: exponential, capped, with jitter in [50%, 100%]. */
export function retryDelayMs(failures: number, random: Random): number {
  const exponential = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(exponential * (0.5 + random() / 2));
}

/** The first instant at or after `at` that lies in no blackout period (bounded: overlapping periods chain). */
function leaveBlackouts(policy: Policy, at: number): number {
  const periods = (policy.blackout ?? []).map((b, i) => ({
    schedule: parseSchedule(b.start, policy.timezone, `blackout.${i}.start`),
    lengthMs: ms(b.duration, `blackout.${i}.duration`),
  }));
  let t = at;
  for (let moved = true, rounds = 0; moved && rounds < 100; rounds++) {
    moved = false;
    for (const period of periods) {
      // A period contains t when it started within lengthMs before t.
      const start = nextScheduledAt(period.schedule, new Date(t - period.lengthMs));
      if (start && start.getTime() <= t && t < start.getTime() + period.lengthMs) {
        t = start.getTime() + period.lengthMs;
        moved = true;
      }
    }
  }
  return t;
}

/** A policy's duration field in milliseconds (0 when absent); a bad one is named by `field`. */
function ms(duration: string | undefined, field: string): number {
  return duration ? parseDuration(duration, field) : 0;
}
