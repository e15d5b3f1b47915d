import { z } from 'zod';
import { isDuration, parseDuration } from './duration.js';
import { RotorError } from './errors.js';
import { nextScheduledAt, parseSchedule } from './schedule.js';
import { describeZodError } from './zod-issues.js';

/** Rotation policy of one secret, stored as given (durations stay human-readable). */
export interface Policy {
  /** An interval (`30d`) or a cron expression (`0 3 * * 1`). */
  readonly schedule: string;
  /** IANA time zone for a cron schedule. */
  readonly timezone?: string | undefined;
  /** How long `previous` stays valid after a promotion. */
  readonly grace: string;
  /** Versions kept with their value; older deprecated ones are destroyed. */
  readonly maxVersions: number;
  /** Never rotated by the scheduler, only on demand. */
  readonly manual: boolean;
}

/** Defaults follow common guidance: 90 days for credentials and API keys, a year for raw key material. */
export const DEFAULT_SCHEDULE_BY_TYPE: Readonly<Record<string, string>> = {
  'api-key': '90d',
  password: '90d',
  'jwt-secret': '90d',
  random: '365d',
};

const duration = (field: string) =>
  z
    .string()
    .refine(isDuration, { message: `expected a duration such as 90s, 12h or 30d` })
    .describe(field);

const timezone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected an IANA time zone such as Europe/Paris or UTC' },
);

const MAX_VERSIONS_ERROR = 'expected an integer from 2 to 1000';

const policyInputSchema = z.strictObject({
  schedule: z
    .string({ error: 'expected an interval such as 30d or a cron expression' })
    .min(1)
    .max(200)
    .optional(),
  timezone: timezone.optional(),
  grace: duration('grace').optional(),
  maxVersions: z
    .int({ error: MAX_VERSIONS_ERROR })
    .min(2, { error: MAX_VERSIONS_ERROR })
    .max(1000, { error: MAX_VERSIONS_ERROR })
    .optional(),
  manual: z.boolean({ error: 'expected true or false' }).optional(),
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
    throw new RotorError(
      'ERR_INVALID_POLICY',
      `invalid policy: ${describeZodError(parsed.error, input, POLICY_FIELDS)}`,
    );
  }
  const merged: Policy = { ...base, ...stripUndefined(parsed.data) };
  parseSchedule(merged.schedule, merged.timezone);
  parseDuration(merged.grace, 'grace');
  return merged;
}

export function defaultPolicy(type: string): Policy {
  return {
    schedule: DEFAULT_SCHEDULE_BY_TYPE[type] ?? '90d',
    grace: '1h',
    maxVersions: 10,
    manual: false,
  };
}

/** When the scheduler should next rotate a secret with this policy, counting from `from`. */
export function nextRotationAt(policy: Policy, from: Date): Date | undefined {
  if (policy.manual) return undefined;
  return nextScheduledAt(parseSchedule(policy.schedule, policy.timezone), from);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Until when a version demoted to `previous` at `at` stays valid. */
export function graceEndsAt(policy: Policy, at: Date): Date {
  return new Date(at.getTime() + parseDuration(policy.grace, 'grace'));
}
