import { z } from 'zod';
import { isDuration, parseDuration } from './duration.js';
import { RotorError } from './errors.js';
import { parseSchedule } from './schedule.js';
import { SINK_FIELDS, type Sink, type SinkType, sinksSchema } from './sink.js';
import { describeZodError } from './zod-issues.js';

/** A recurring period in which scheduled rotations must not start (a release freeze, business hours). */
export interface Blackout {
  /** Cron expression for when the period starts, in the policy's time zone. */
  readonly start: string;
  /** How long the period lasts. */
  readonly duration: string;
}

/** Rotation policy of one secret, stored as given (durations stay human-readable). */
export interface Policy {
  /** An interval (`30d`) or a cron expression (`0 3 * * 1`). */
  readonly schedule: string;
  /** IANA time zone for a cron schedule and blackouts. */
  readonly timezone?: string | undefined;
  /** How long after its scheduled time a rotation may still start; a missed window waits for the next time. */
  readonly window?: string | undefined;
  /** A random delay up to this much is added to each scheduled time, so secrets do not rotate in lockstep. */
  readonly jitter?: string | undefined;
  /** Scheduled rotations never come closer than this to the last one. */
  readonly minInterval?: string | undefined;
  readonly blackout?: readonly Blackout[] | undefined;
  /** How long `previous` stays valid after a promotion. */
  readonly grace: string;
  /** Versions kept with their value; older deprecated ones are destroyed. */
  readonly maxVersions: number;
  /** Consecutive failed rotations before the secret is parked as needs-attention. */
  readonly maxFailures: number;
  /** Never rotated by the scheduler, only on demand. */
  readonly manual: boolean;
  /** How often the scheduler logs in with `current` to catch drift (secrets with a target only). */
  readonly checkEvery: string;
  /** Where the value is published each time a version becomes current. */
  readonly sinks?: readonly Sink[] | undefined;
}

/** Defaults follow common guidance: 90 days for credentials and API keys, a year for raw key material. */
export const DEFAULT_SCHEDULE_BY_TYPE: Readonly<Record<string, string>> = {
  'api-key': '90d',
  password: '90d',
  'jwt-secret': '90d',
  random: '365d',
};

const DURATION_ERROR = 'expected a duration such as 90s, 12h or 30d';
// Times computed from a policy duration (grace end, next check) must stay valid dates.
const MAX_DURATION_DAYS = 36_500;
const duration = z
  .string({ error: DURATION_ERROR })
  .refine(isDuration, { error: DURATION_ERROR })
  .refine(fitsDateRange, { error: `expected a duration of at most ${MAX_DURATION_DAYS}d` });

const TIMEZONE_ERROR = 'expected an IANA time zone such as Europe/Paris or UTC';
const timezone = z.string({ error: TIMEZONE_ERROR }).refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { error: TIMEZONE_ERROR },
);

const boundedInt = (min: number, max: number) => {
  const error = `expected an integer from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
};

const policyInputSchema = z.strictObject({
  schedule: z
    .string({ error: 'expected an interval such as 30d or a cron expression' })
    .min(1)
    .max(200)
    .optional(),
  timezone: timezone.optional(),
  window: duration.optional(),
  jitter: duration.optional(),
  minInterval: duration.optional(),
  blackout: z
    .array(z.strictObject({ start: z.string().min(1).max(200), duration }), {
      error: 'expected a list of {start: cron, duration}',
    })
    .max(20)
    .optional(),
  grace: duration.optional(),
  maxVersions: boundedInt(2, 1000).optional(),
  maxFailures: boundedInt(1, 100).optional(),
  manual: z.boolean({ error: 'expected true or false' }).optional(),
  checkEvery: duration.optional(),
  sinks: sinksSchema,
});

export type PolicyInput = z.input<typeof policyInputSchema>;
const POLICY_FIELDS = Object.keys(policyInputSchema.shape);

/**
 * Validates a partial policy and merges it over `base` (the type defaults when
 * creating, the stored policy when updating). Throws ERR_INVALID_POLICY naming the field.
 */
export function resolvePolicy(input: unknown, base: Policy): Policy {
  const parsed = policyInputSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new RotorError('ERR_INVALID_POLICY', `invalid policy: ${describe(parsed.error, input)}`);
  }
  const merged: Policy = { ...base, ...stripUndefined(parsed.data) };
  parseSchedule(merged.schedule, merged.timezone, 'schedule');
  merged.blackout?.forEach((b, i) => {
    parseSchedule(b.start, merged.timezone, `blackout.${i}.start`);
  });
  return merged;
}

export function defaultPolicy(type: string): Policy {
  return {
    schedule: DEFAULT_SCHEDULE_BY_TYPE[type] ?? '90d',
    grace: '1h',
    maxVersions: 10,
    maxFailures: 5,
    manual: false,
    checkEvery: '1h',
  };
}

/** Until when a version demoted to `previous` at `at` stays valid. */
export function graceEndsAt(policy: Policy, at: Date): Date {
  return new Date(at.getTime() + parseDuration(policy.grace, 'grace'));
}

function describe(error: z.ZodError, input: unknown): string {
  const [issue] = error.issues;
  // An unknown field inside a sink lists that sink type's fields, not the policy's.
  if (issue?.code === 'unrecognized_keys' && issue.path[0] === 'sinks') {
    const index = Number(issue.path[1]);
    // Only a sink whose type matched is checked for unknown fields, so it exists and its type is known.
    const sink = (input as { sinks: Array<{ type: SinkType }> }).sinks[index] as { type: SinkType };
    const inner = new z.ZodError([{ ...issue, path: [] }]);
    return `sinks.${index}: ${describeZodError(inner, sink, SINK_FIELDS[sink.type])}`;
  }
  return describeZodError(error, input, POLICY_FIELDS);
}

function fitsDateRange(text: string): boolean {
  if (!isDuration(text)) return true;
  try {
    return parseDuration(text, 'duration') <= MAX_DURATION_DAYS * 86_400_000;
  } catch {
    return false;
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
