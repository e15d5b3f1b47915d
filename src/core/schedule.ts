import { Cron } from 'croner';
import { isDuration, parseDuration } from './duration.js';
import { RotorError } from './errors.js';

/** A parsed `schedule` policy field: a fixed interval or a cron expression in a time zone. */
export type Schedule =
  | { readonly kind: 'interval'; readonly everyMs: number }
  | { readonly kind: 'cron'; readonly cron: Cron };

export function parseSchedule(spec: string, timezone: string | undefined): Schedule {
  if (isDuration(spec)) {
    const everyMs = parseDuration(spec, 'schedule');
    if (everyMs < 1_000) {
      throw new RotorError(
        'ERR_INVALID_POLICY',
        `schedule: an interval must be at least 1s (got ${spec})`,
      );
    }
    return { kind: 'interval', everyMs };
  }
  try {
    // paused: croner must never own a timer; Rotor only asks it for the next date.
    return { kind: 'cron', cron: new Cron(spec, { timezone, paused: true }) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RotorError(
      'ERR_INVALID_POLICY',
      `schedule: expected an interval such as 30d or a cron expression such as "0 3 * * 1" (got ${JSON.stringify(spec.slice(0, 60))}: ${reason})`,
    );
  }
}

/** The first scheduled time strictly after `after`, or undefined when a cron pattern never fires again. */
export function nextScheduledAt(schedule: Schedule, after: Date): Date | undefined {
  if (schedule.kind === 'interval') return new Date(after.getTime() + schedule.everyMs);
  return schedule.cron.nextRun(after) ?? undefined;
}
