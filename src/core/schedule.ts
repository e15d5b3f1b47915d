import { Cron } from 'croner';
import { isDuration, parseDuration } from './duration.js';
import { RotorError } from './errors.js';

/** A parsed schedule: a fixed interval or a cron expression in a time zone. */
export type Schedule =
  | { readonly kind: 'interval'; readonly everyMs: number }
  | { readonly kind: 'cron'; readonly cron: Cron };

/** `field` names the policy field in errors (`schedule`, `blackout.0.start`). */
export function parseSchedule(spec: string, timezone: string | undefined, field: string): Schedule {
  if (isDuration(spec)) {
    if (field !== 'schedule') return rejectSpec(spec, field, 'expected a cron expression');
    const everyMs = parseDuration(spec, field);
    if (everyMs < 1_000) {
      throw new RotorError(
        'ERR_INVALID_POLICY',
        `${field}: an interval must be at least 1s (got ${spec})`,
      );
    }
    return { kind: 'interval', everyMs };
  }
  try {
    // paused: croner must never own a timer; Rotor only asks it for dates.
    // UTC unless told otherwise: the host's zone must not change when secrets rotate.
    return { kind: 'cron', cron: new Cron(spec, { timezone: timezone ?? 'UTC', paused: true }) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const expected =
      field === 'schedule'
        ? 'expected an interval such as 30d or a cron expression such as "0 3 * * 1"'
        : 'expected a cron expression such as "0 18 * * 5"';
    return rejectSpec(spec, field, `${expected}: ${reason}`);
  }
}

function rejectSpec(spec: string, field: string, why: string): never {
  throw new RotorError(
    'ERR_INVALID_POLICY',
    `${field}: ${why} (got ${JSON.stringify(spec.slice(0, 60))})`,
  );
}

/** The first scheduled time strictly after `after`, or undefined when a cron pattern never fires again. */
export function nextScheduledAt(schedule: Schedule, after: Date): Date | undefined {
  if (schedule.kind === 'interval') return new Date(after.getTime() + schedule.everyMs);
  return schedule.cron.nextRun(after) ?? undefined;
}
