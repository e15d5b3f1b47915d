import { Cron } from 'croner';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/core/duration.js';
import {
  defaultPolicy,
  type Policy,
  type PolicyInput,
  resolvePolicy,
} from '../../src/core/policy.js';
import {
  decideDue,
  planNextRotation,
  type Random,
  retryDelayMs,
} from '../../src/core/rotation-schedule.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const at = (iso: string) => new Date(iso);
const policy = (input: PolicyInput): Policy => resolvePolicy(input, defaultPolicy('api-key'));
const fixed =
  (value: number): Random =>
  () =>
    value;
const never: Random = () => {
  throw new Error('random() must not be called here');
};

const plan = (
  p: Policy,
  from: Date,
  lastRotatedAt: Date | null = null,
  random: Random = fixed(0),
) => planNextRotation(p, { from, lastRotatedAt, random });

/** Every fast-check run reproduces from this seed. */
const SEED = 20260329;
const FROM_2026 = {
  min: at('2026-01-01T00:00:00Z'),
  max: at('2026-12-31T00:00:00Z'),
  noInvalidDate: true,
};
const unitInterval = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

/**
 * Brute force, independent of the implementation: every blackout period that
 * contains `t`, found by enumerating each blackout's starts from well before t.
 * A period [s, s + duration) is half-open: its end is outside it.
 */
function blackoutsContaining(p: Policy, t: Date): { start: string; from: string; until: string }[] {
  const hits: { start: string; from: string; until: string }[] = [];
  for (const blackout of p.blackout ?? []) {
    const length = parseDuration(blackout.duration, 'duration');
    const cron = new Cron(blackout.start, { timezone: p.timezone, paused: true });
    let s = cron.nextRun(new Date(t.getTime() - length - HOUR));
    for (let guard = 0; s && s.getTime() <= t.getTime(); guard++) {
      if (guard > 1_000)
        throw new Error(`croner did not move past ${s.toISOString()} for ${blackout.start}`);
      if (t.getTime() < s.getTime() + length) {
        hits.push({
          start: blackout.start,
          from: s.toISOString(),
          until: new Date(s.getTime() + length).toISOString(),
        });
      }
      const after: Date | null = cron.nextRun(s);
      if (after && after.getTime() <= s.getTime()) {
        throw new Error(
          `croner went back from ${s.toISOString()} to ${after.toISOString()} for ${blackout.start}`,
        );
      }
      s = after;
    }
  }
  return hits;
}

describe('planNextRotation: intervals', () => {
  it.each([
    ['30d', '2026-01-01T00:00:00.000Z', '2026-01-31T00:00:00.000Z'],
    ['12h', '2026-01-01T00:00:00.000Z', '2026-01-01T12:00:00.000Z'],
    ['90s', '2026-01-01T00:00:00.000Z', '2026-01-01T00:01:30.000Z'],
    ['1h30m', '2026-06-15T10:20:30.456Z', '2026-06-15T11:50:30.456Z'],
    ['1w', '2026-03-25T12:00:00.000Z', '2026-04-01T12:00:00.000Z'],
    // An interval is absolute time: a DST change in a time zone does not stretch it.
    ['1d', '2026-03-28T12:00:00.000Z', '2026-03-29T12:00:00.000Z'],
  ])('%s from %s is %s', (schedule, from, expected) => {
    expect(plan(policy({ schedule, timezone: 'Europe/Paris' }), at(from))?.toISOString()).toBe(
      expected,
    );
  });

  it('uses the per-type default interval', () => {
    expect(plan(defaultPolicy('random'), at('2026-01-01T00:00:00Z'))?.toISOString()).toBe(
      '2027-01-01T00:00:00.000Z',
    );
    expect(plan(defaultPolicy('password'), at('2026-01-01T00:00:00Z'))?.toISOString()).toBe(
      '2026-04-01T00:00:00.000Z',
    );
  });

  it('is from + interval for any start and interval when random is 0', () => {
    fc.assert(
      fc.property(
        fc.date(FROM_2026),
        fc.integer({ min: 1, max: 400 }),
        fc.constantFrom('s', 'm', 'h', 'd'),
        (from, amount, unit) => {
          const schedule = `${amount}${unit}`;
          expect(plan(policy({ schedule }), from)?.getTime()).toBe(
            from.getTime() + parseDuration(schedule, 'schedule'),
          );
        },
      ),
      { seed: SEED },
    );
  });

  it('returns null for a manual secret, without drawing a random number', () => {
    expect(plan(policy({ manual: true }), at('2026-01-01T00:00:00Z'), null, never)).toBeNull();
    expect(
      plan(
        policy({ manual: true, schedule: '0 3 * * *', jitter: '1h', minInterval: '1d' }),
        at('2026-01-01T00:00:00Z'),
        at('2025-12-31T00:00:00Z'),
        never,
      ),
    ).toBeNull();
  });

  it('returns null once a one-off cron date has passed', () => {
    const once = policy({ schedule: '2026-07-01T00:00:00', timezone: 'UTC' });
    expect(plan(once, at('2026-06-01T00:00:00Z'))?.toISOString()).toBe('2026-07-01T00:00:00.000Z');
    expect(plan(once, at('2026-07-01T00:00:00Z'))).toBeNull();
  });
});

describe('planNextRotation: jitter', () => {
  it.each([
    [0, '2026-01-02T00:00:00.000Z'],
    [0.5, '2026-01-02T01:00:00.000Z'],
    [0.25, '2026-01-02T00:30:00.000Z'],
    // The largest double below 1 still stays strictly inside the jitter.
    [1 - 2 ** -53, '2026-01-02T01:59:59.999Z'],
  ])('random %d adds its share of a 2h jitter', (random, expected) => {
    const p = policy({ schedule: '1d', jitter: '2h' });
    expect(plan(p, at('2026-01-01T00:00:00Z'), null, fixed(random))?.toISOString()).toBe(expected);
  });

  it('adds a delay in [0, jitter) to the scheduled time, for any random in [0, 1)', () => {
    fc.assert(
      fc.property(
        fc.date(FROM_2026),
        fc.constantFrom('1s', '90s', '15m', '2h', '1d', '7d'),
        unitInterval,
        (from, jitter, random) => {
          const p = policy({ schedule: '1d', jitter });
          const delay =
            (plan(p, from, null, fixed(random))?.getTime() ?? Number.NaN) - from.getTime() - DAY;
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(parseDuration(jitter, 'jitter'));
        },
      ),
      { seed: SEED },
    );
  });

  it('adds jitter to cron times too', () => {
    const p = policy({ schedule: '0 3 * * *', timezone: 'UTC', jitter: '30m' });
    expect(plan(p, at('2026-05-01T12:00:00Z'), null, fixed(0.5))?.toISOString()).toBe(
      '2026-05-02T03:15:00.000Z',
    );
  });
});

describe('planNextRotation: minInterval', () => {
  const p = policy({ schedule: '1d', minInterval: '7d' });
  const from = at('2026-04-10T00:00:00Z');

  it.each([
    ['never rotated', null, '2026-04-11T00:00:00.000Z'],
    [
      'rotated a day ago: pushed to lastRotatedAt + 7d',
      '2026-04-09T00:00:00Z',
      '2026-04-16T00:00:00.000Z',
    ],
    ['rotated 6d ago: exactly the schedule', '2026-04-04T00:00:00Z', '2026-04-11T00:00:00.000Z'],
    ['rotated 6d ago less 1ms: 1ms later', '2026-04-04T00:00:00.001Z', '2026-04-11T00:00:00.001Z'],
    ['rotated a month ago: the schedule', '2026-03-10T00:00:00Z', '2026-04-11T00:00:00.000Z'],
  ])('%s', (_, last, expected) => {
    expect(plan(p, from, last === null ? null : at(last))?.toISOString()).toBe(expected);
  });

  it('never plans closer than minInterval to the last rotation, nor before the schedule', () => {
    fc.assert(
      fc.property(
        fc.date(FROM_2026),
        fc.integer({ min: -30 * DAY, max: 0 }),
        fc.constantFrom('1h', '1d', '7d', '30d'),
        unitInterval,
        (from, lastOffset, minInterval, random) => {
          const mp = policy({ schedule: '1d', jitter: '1h', minInterval });
          const last = new Date(from.getTime() + lastOffset);
          const next = plan(mp, from, last, fixed(random))?.getTime() ?? Number.NaN;
          const earliest = last.getTime() + parseDuration(minInterval, 'minInterval');
          const scheduled = from.getTime() + DAY + Math.floor(random * HOUR);
          expect(next).toBe(Math.max(earliest, scheduled));
        },
      ),
      { seed: SEED },
    );
  });
});

describe('planNextRotation: cron with a time zone', () => {
  const paris = policy({ schedule: '0 3 * * *', timezone: 'Europe/Paris' });

  it.each([
    // Winter time, UTC+1.
    ['2026-03-27T12:00:00Z', '2026-03-28T02:00:00.000Z'],
    // 2026-03-29: clocks go from 02:00 CET to 03:00 CEST; 03:00 local is 01:00 UTC.
    ['2026-03-28T12:00:00Z', '2026-03-29T01:00:00.000Z'],
    ['2026-03-29T00:59:59.999Z', '2026-03-29T01:00:00.000Z'],
    ['2026-03-29T12:00:00Z', '2026-03-30T01:00:00.000Z'],
    // Summer time, UTC+2.
    ['2026-10-23T12:00:00Z', '2026-10-24T01:00:00.000Z'],
    // 2026-10-25: clocks go back from 03:00 CEST to 02:00 CET; 03:00 local happens once, at 02:00 UTC.
    ['2026-10-24T12:00:00Z', '2026-10-25T02:00:00.000Z'],
    ['2026-10-25T01:00:00Z', '2026-10-25T02:00:00.000Z'],
    ['2026-10-25T12:00:00Z', '2026-10-26T02:00:00.000Z'],
  ])('0 3 * * * Europe/Paris after %s is %s', (from, expected) => {
    expect(plan(paris, at(from))?.toISOString()).toBe(expected);
  });

  it('plans strictly after `from`', () => {
    expect(plan(paris, at('2026-03-29T01:00:00Z'))?.toISOString()).toBe('2026-03-30T01:00:00.000Z');
  });

  it.each([
    // US clocks go forward on 2026-03-08: 03:00 is 08:00 UTC the Monday before, 07:00 UTC after.
    ['America/New_York', '2026-02-28T12:00:00Z', '2026-03-02T08:00:00.000Z'],
    ['America/New_York', '2026-03-07T12:00:00Z', '2026-03-09T07:00:00.000Z'],
    ['America/New_York', '2026-03-08T12:00:00Z', '2026-03-09T07:00:00.000Z'],
    ['Asia/Tokyo', '2026-03-08T12:00:00Z', '2026-03-08T18:00:00.000Z'],
    ['UTC', '2026-03-08T12:00:00Z', '2026-03-09T03:00:00.000Z'],
  ])('0 3 * * 1 in %s after %s is %s', (timezone, from, expected) => {
    expect(plan(policy({ schedule: '0 3 * * 1', timezone }), at(from))?.toISOString()).toBe(
      expected,
    );
  });
});

describe('planNextRotation: blackouts', () => {
  // Friday 18:00 to Monday 08:00 UTC; 2026-05-08 is a Friday.
  const WEEKEND = { start: '0 18 * * 5', duration: '62h' };
  /** A policy whose schedule lands exactly on `planned` when planned from one second earlier. */
  const landing = (planned: string, blackout: PolicyInput['blackout'], timezone = 'UTC') => {
    const p = policy({ schedule: '1s', timezone, blackout });
    return plan(p, new Date(at(planned).getTime() - SECOND))?.toISOString();
  };

  it.each([
    ['Wednesday', '2026-05-06T12:00:00.000Z', '2026-05-06T12:00:00.000Z'],
    ['1ms before it starts', '2026-05-08T17:59:59.999Z', '2026-05-08T17:59:59.999Z'],
    ['exactly at its start', '2026-05-08T18:00:00.000Z', '2026-05-11T08:00:00.000Z'],
    ['Saturday noon', '2026-05-09T12:00:00.000Z', '2026-05-11T08:00:00.000Z'],
    ['Sunday night', '2026-05-10T23:59:59.000Z', '2026-05-11T08:00:00.000Z'],
    ['1ms before it ends', '2026-05-11T07:59:59.999Z', '2026-05-11T08:00:00.000Z'],
    ['exactly at its end (outside)', '2026-05-11T08:00:00.000Z', '2026-05-11T08:00:00.000Z'],
    ['1ms after it ends', '2026-05-11T08:00:00.001Z', '2026-05-11T08:00:00.001Z'],
  ])('weekend blackout, planned %s', (_, planned, expected) => {
    expect(landing(planned, [WEEKEND])).toBe(expected);
  });

  it('moves a planned time, after jitter and minInterval, out of the blackout', () => {
    const p = policy({
      schedule: '1d',
      jitter: '2h',
      minInterval: '7d',
      timezone: 'UTC',
      blackout: [WEEKEND],
    });
    // Scheduled Thursday 12:00 + 1h jitter, but minInterval pushes to Saturday 10:00, inside the weekend.
    expect(
      plan(p, at('2026-05-06T12:00:00Z'), at('2026-05-02T10:00:00Z'), fixed(0.5))?.toISOString(),
    ).toBe('2026-05-11T08:00:00.000Z');
    // Scheduled Friday 17:00, and 1h59m59.999s of jitter carries it into the weekend.
    expect(plan(p, at('2026-05-07T17:00:00Z'), null, fixed(1 - 2 ** -53))?.toISOString()).toBe(
      '2026-05-11T08:00:00.000Z',
    );
    // Scheduled Friday 15:00: the same jitter leaves it before 18:00.
    expect(plan(p, at('2026-05-07T15:00:00Z'), null, fixed(1 - 2 ** -53))?.toISOString()).toBe(
      '2026-05-08T16:59:59.999Z',
    );
  });

  it('applies blackouts in the policy time zone, across a DST change', () => {
    // Friday 18:00 Paris time, 62h: on 2026-10-23 (CEST) that is 16:00 UTC to Monday 06:00 UTC.
    expect(landing('2026-10-23T15:59:59.999Z', [WEEKEND], 'Europe/Paris')).toBe(
      '2026-10-23T15:59:59.999Z',
    );
    expect(landing('2026-10-23T16:00:00.000Z', [WEEKEND], 'Europe/Paris')).toBe(
      '2026-10-26T06:00:00.000Z',
    );
    expect(landing('2026-10-26T06:00:00.000Z', [WEEKEND], 'Europe/Paris')).toBe(
      '2026-10-26T06:00:00.000Z',
    );
    // A week later (CET) it is 17:00 UTC to Monday 07:00 UTC.
    expect(landing('2026-10-30T16:30:00.000Z', [WEEKEND], 'Europe/Paris')).toBe(
      '2026-10-30T16:30:00.000Z',
    );
    expect(landing('2026-10-30T17:30:00.000Z', [WEEKEND], 'Europe/Paris')).toBe(
      '2026-11-02T07:00:00.000Z',
    );
  });

  describe('overlapping blackouts chain', () => {
    const MONDAY_MORNING = { start: '0 7 * * 1', duration: '3h' }; // Monday 07:00-10:00, overlaps the weekend
    const MONDAY_STANDUP = { start: '0 10 * * 1', duration: '30m' }; // starts exactly when the previous ends
    const TUESDAY = { start: '0 0 * * 2', duration: '1h' }; // unrelated

    it.each([
      ['weekend then Monday morning', [WEEKEND, MONDAY_MORNING], '2026-05-11T10:00:00.000Z'],
      ['Monday morning then weekend', [MONDAY_MORNING, WEEKEND], '2026-05-11T10:00:00.000Z'],
      [
        'three in a chain',
        [MONDAY_STANDUP, MONDAY_MORNING, TUESDAY, WEEKEND],
        '2026-05-11T10:30:00.000Z',
      ],
      [
        'a period starting exactly at the end of another',
        [WEEKEND, { start: '0 8 * * 1', duration: '1h' }],
        '2026-05-11T09:00:00.000Z',
      ],
    ])('%s', (_, blackout, expected) => {
      expect(landing('2026-05-09T12:00:00.000Z', blackout)).toBe(expected);
    });

    it('one blackout whose occurrences abut: 09:00-17:00 and 17:00-01:00', () => {
      const shifts = [{ start: '0 9,17 * * *', duration: '8h' }];
      // Noon is in the 09:00 period; its end, 17:00, is the start of the next one.
      expect(landing('2026-05-06T12:00:00.000Z', shifts)).toBe('2026-05-07T01:00:00.000Z');
      expect(landing('2026-05-06T17:00:00.000Z', shifts)).toBe('2026-05-07T01:00:00.000Z');
      expect(landing('2026-05-06T20:00:00.000Z', shifts)).toBe('2026-05-07T01:00:00.000Z');
      expect(landing('2026-05-07T01:00:00.000Z', shifts)).toBe('2026-05-07T01:00:00.000Z');
    });

    it('one blackout whose occurrences overlap: daily 18:00 for 25h', () => {
      // [Fri 18:00, Sat 19:00) overlaps [Sat 18:00, Sun 19:00): together, Friday 18:00 to Sunday 19:00.
      const long = [{ start: '0 18 * * 5,6', duration: '25h' }];
      expect(landing('2026-05-08T20:00:00.000Z', long)).toBe('2026-05-10T19:00:00.000Z');
      expect(landing('2026-05-09T19:00:00.000Z', long)).toBe('2026-05-10T19:00:00.000Z');
    });
  });

  const cronArb = fc
    .record({
      minute: fc.constantFrom(0, 15, 30, 45),
      hours: fc.uniqueArray(fc.integer({ min: 0, max: 23 }), { minLength: 1, maxLength: 2 }),
      day: fc.integer({ min: 0, max: 6 }),
    })
    .map(
      ({ minute, hours, day }) => `${minute} ${hours.sort((a, b) => a - b).join(',')} * * ${day}`,
    );
  // Each blackout spans less than 23h45 + 48h of a week, so two never cover a whole week: a free time
  // always exists. Two start hours with a duration longer than their gap make occurrences overlap or abut.
  const blackoutArb = fc.record({
    start: cronArb,
    duration: fc.integer({ min: 1, max: 48 * 4 }).map((quarters) => `${quarters * 15}m`),
  });

  it('never plans inside a blackout (brute force)', () => {
    fc.assert(
      fc.property(
        fc.array(blackoutArb, { minLength: 1, maxLength: 2 }),
        fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York'),
        fc.date(FROM_2026),
        fc.constantFrom('1h', '1d', '3d', '7d'),
        unitInterval,
        (blackout, timezone, from, schedule, random) => {
          const p = policy({ schedule, timezone, jitter: '6h', blackout });
          const next = plan(p, from, null, fixed(random));
          expect(next).not.toBeNull();
          if (!next) return;
          expect(blackoutsContaining(p, next)).toEqual([]);
          // Leaving blackouts only moves a time later, and then exactly to the end of a blackout period.
          const unblocked =
            from.getTime() + parseDuration(schedule, 'schedule') + Math.floor(random * 6 * HOUR);
          expect(next.getTime()).toBeGreaterThanOrEqual(unblocked);
          if (next.getTime() > unblocked) {
            expect(blackoutsContaining(p, new Date(next.getTime() - 1))).not.toEqual([]);
          }
        },
      ),
      { seed: SEED, numRuns: 300, plugins: [fc.interruptAfterTimeLimit(5_000)] },
    );
  });

  it('never plans inside a blackout when planned right at its boundaries (brute force)', () => {
    fc.assert(
      fc.property(
        fc.array(blackoutArb, { minLength: 1, maxLength: 2 }),
        fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York'),
        fc.date(FROM_2026),
        fc.constantFrom('start', 'end'),
        fc.integer({ min: -2, max: 2 }),
        (blackout, timezone, near, edge, offset) => {
          const p = policy({ schedule: '1s', timezone, blackout });
          const [first] = blackout;
          if (!first) return;
          const start = new Cron(first.start, { timezone, paused: true }).nextRun(near);
          if (!start) return;
          const boundary =
            edge === 'start'
              ? start.getTime()
              : start.getTime() + parseDuration(first.duration, 'duration');
          const planned = boundary + offset;
          const next = plan(p, new Date(planned - SECOND));
          expect(next).not.toBeNull();
          if (!next) return;
          expect(blackoutsContaining(p, next)).toEqual([]);
          expect(next.getTime()).toBeGreaterThanOrEqual(planned);
          if (blackoutsContaining(p, new Date(planned)).length === 0) {
            expect(next.getTime()).toBe(planned);
          }
        },
      ),
      { seed: SEED, numRuns: 300, plugins: [fc.interruptAfterTimeLimit(5_000)] },
    );
  });
});

describe('decideDue', () => {
  const dueAt = at('2026-05-06T03:00:00Z'); // a Wednesday
  const daily = policy({ schedule: '0 3 * * *', timezone: 'UTC', window: '2h' });

  it.each([
    ['at the scheduled time', '2026-05-06T03:00:00.000Z'],
    ['within the window', '2026-05-06T04:30:00.000Z'],
    ['1ms before the window closes', '2026-05-06T04:59:59.999Z'],
    ['as the window closes', '2026-05-06T05:00:00.000Z'],
  ])('rotates %s', (_, now) => {
    expect(decideDue(daily, dueAt, at(now), null, never)).toEqual({ action: 'rotate' });
  });

  it.each([
    ['1ms after the window closed', '2026-05-06T05:00:00.001Z', '2026-05-07T03:00:00.000Z'],
    ['the next evening', '2026-05-06T23:00:00.000Z', '2026-05-07T03:00:00.000Z'],
    ['two days late', '2026-05-08T04:00:00.000Z', '2026-05-09T03:00:00.000Z'],
  ])('defers to the next scheduled time %s', (_, now, until) => {
    expect(decideDue(daily, dueAt, at(now), null, fixed(0))).toEqual({
      action: 'defer',
      until: at(until),
      reason: expect.stringMatching(/window/),
    });
  });

  it('plans the time after a missed window with jitter and blackouts', () => {
    const p = policy({
      schedule: '1d',
      window: '1h',
      jitter: '1h',
      timezone: 'UTC',
      blackout: [{ start: '0 0 * * *', duration: '4h' }],
    });
    // Missed at 02:00 on Wednesday; 1d later is Thursday 02:00 + 30m jitter, inside 00:00-04:00.
    expect(
      decideDue(p, at('2026-05-06T00:00:00Z'), at('2026-05-06T02:00:00Z'), null, fixed(0.5)),
    ).toEqual({
      action: 'defer',
      until: at('2026-05-07T04:00:00Z'),
      reason: expect.stringMatching(/1h window/),
    });
  });

  it('never misses without a window, however late', () => {
    const p = policy({ schedule: '0 3 * * *', timezone: 'UTC' });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 365 * DAY }), (late) => {
        expect(decideDue(p, dueAt, new Date(dueAt.getTime() + late), null, never)).toEqual({
          action: 'rotate',
        });
      }),
      { seed: SEED },
    );
  });

  it('rotates exactly while within the window', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('1m', '2h', '1d'),
        fc.integer({ min: 0, max: 3 * DAY }),
        (window, late) => {
          const p = policy({ schedule: '0 3 * * *', timezone: 'UTC', window });
          const decision = decideDue(p, dueAt, new Date(dueAt.getTime() + late), null, fixed(0));
          expect(decision.action).toBe(
            late <= parseDuration(window, 'window') ? 'rotate' : 'defer',
          );
        },
      ),
      { seed: SEED },
    );
  });

  describe('inside a blackout', () => {
    const p = policy({
      schedule: '1d',
      timezone: 'UTC',
      blackout: [{ start: '0 18 * * 5', duration: '62h' }],
    });
    const friday = at('2026-05-08T12:00:00Z');

    it.each([
      ['as it starts', '2026-05-08T18:00:00.000Z'],
      ['on Saturday', '2026-05-09T12:00:00.000Z'],
      ['1ms before it ends', '2026-05-11T07:59:59.999Z'],
    ])('defers until its end %s', (_, now) => {
      expect(decideDue(p, friday, at(now), null, never)).toEqual({
        action: 'defer',
        until: at('2026-05-11T08:00:00.000Z'),
        reason: expect.stringMatching(/blackout/),
      });
    });

    it.each([
      ['1ms before it starts', '2026-05-08T17:59:59.999Z'],
      ['exactly at its end', '2026-05-11T08:00:00.000Z'],
    ])('rotates %s', (_, now) => {
      expect(decideDue(p, friday, at(now), null, never)).toEqual({ action: 'rotate' });
    });

    it('defers to the end of a chain of blackouts', () => {
      const chained = policy({
        schedule: '1d',
        timezone: 'UTC',
        blackout: [
          { start: '0 7 * * 1', duration: '3h' },
          { start: '0 18 * * 5', duration: '62h' },
        ],
      });
      expect(decideDue(chained, friday, at('2026-05-09T12:00:00Z'), null, never)).toEqual({
        action: 'defer',
        until: at('2026-05-11T10:00:00Z'),
        reason: expect.stringMatching(/blackout/),
      });
    });

    it('defers at the start of an occurrence that begins as another of the same blackout ends', () => {
      const shifts = policy({
        schedule: '1d',
        timezone: 'UTC',
        blackout: [{ start: '0 9,17 * * *', duration: '8h' }],
      });
      const wednesday = at('2026-05-06T08:00:00Z');
      expect(decideDue(shifts, wednesday, at('2026-05-06T17:00:00Z'), null, never)).toEqual({
        action: 'defer',
        until: at('2026-05-07T01:00:00Z'),
        reason: expect.stringMatching(/blackout/),
      });
    });
  });

  describe('minInterval', () => {
    const p = policy({ schedule: '1d', minInterval: '7d' });
    const now = at('2026-05-06T12:00:00Z');

    it('defers until lastRotatedAt + minInterval when rotated too recently', () => {
      expect(decideDue(p, now, now, at('2026-05-05T12:00:00Z'), never)).toEqual({
        action: 'defer',
        until: at('2026-05-12T12:00:00Z'),
        reason: expect.stringMatching(/7d/),
      });
      expect(decideDue(p, now, now, at('2026-04-29T12:00:00.001Z'), never)).toEqual({
        action: 'defer',
        until: at('2026-05-06T12:00:00.001Z'),
        reason: expect.stringMatching(/7d/),
      });
    });

    it.each([
      ['never rotated', null],
      ['rotated exactly minInterval ago', '2026-04-29T12:00:00Z'],
      ['rotated long ago', '2025-05-06T12:00:00Z'],
    ])('rotates when %s', (_, last) => {
      expect(decideDue(p, now, now, last === null ? null : at(last), never)).toEqual({
        action: 'rotate',
      });
    });
  });
});

describe('retryDelayMs', () => {
  const CAP = 6 * HOUR;

  it.each([
    [1, 1 * MINUTE],
    [2, 2 * MINUTE],
    [3, 4 * MINUTE],
    [4, 8 * MINUTE],
    [5, 16 * MINUTE],
    [6, 32 * MINUTE],
    [7, 64 * MINUTE],
    [8, 128 * MINUTE],
    [9, 256 * MINUTE],
    [10, CAP],
    [11, CAP],
    [50, CAP],
    [10_000, CAP],
  ])('after %i failures the delay is between half of and all of %i ms', (failures, exponential) => {
    expect(retryDelayMs(failures, fixed(0))).toBe(exponential / 2);
    expect(retryDelayMs(failures, fixed(0.5))).toBe((exponential * 3) / 4);
    expect(retryDelayMs(failures, fixed(1 - 2 ** -53))).toBe(exponential);
  });

  it('stays within [50%, 100%] of the capped exponential for any failures and random', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), unitInterval, (failures, random) => {
        const exponential = Math.min(CAP, MINUTE * 2 ** (failures - 1));
        const delay = retryDelayMs(failures, fixed(random));
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(exponential / 2);
        expect(delay).toBeLessThanOrEqual(exponential);
        expect(delay).toBeLessThanOrEqual(CAP);
      }),
      { seed: SEED },
    );
  });

  it('never shrinks as failures accumulate, for the same random draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 49 }), unitInterval, (failures, random) => {
        expect(retryDelayMs(failures + 1, fixed(random))).toBeGreaterThanOrEqual(
          retryDelayMs(failures, fixed(random)),
        );
      }),
      { seed: SEED },
    );
  });

  it('spreads delays: the same failure count with different draws gives different delays', () => {
    const delays = new Set([0, 0.2, 0.4, 0.6, 0.8].map((r) => retryDelayMs(3, fixed(r))));
    expect(delays.size).toBe(5);
  });
});

describe('decideDue: grace of the previous version', () => {
  const p = policy({ schedule: '1h', timezone: 'UTC' });
  const now = at('2026-05-06T12:00:00Z');

  it('waits until the previous version leaves its grace period', () => {
    expect(decideDue(p, now, now, null, never, at('2026-05-06T12:30:00Z'))).toEqual({
      action: 'defer',
      until: at('2026-05-06T12:30:00Z'),
      reason: 'the previous version is still in its grace period',
    });
  });

  it('rotates once the grace has ended, or when there is no previous version', () => {
    expect(decideDue(p, now, now, null, never, now)).toEqual({ action: 'rotate' });
    expect(decideDue(p, now, now, null, never, null)).toEqual({ action: 'rotate' });
  });
});
