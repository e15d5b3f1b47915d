import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { defaultPolicy, graceEndsAt, type Policy, resolvePolicy } from '../../src/core/policy.js';
import { planNextRotation } from '../../src/core/rotation-schedule.js';

describe('durations', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
    ['1w', 604_800_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text, 'grace')).toBe(ms);
    expect(parseDuration(formatDuration(ms), 'grace')).toBe(ms);
  });

  it.each(['', '5x', '1.5h', '-1d', 'd', '10'])('rejects %j naming the field', (text) => {
    expect(() => parseDuration(text, 'grace')).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_POLICY',
        message: expect.stringMatching(/^grace: expected a duration/),
      }),
    );
  });
});

const plan = (policy: Policy, from: Date) =>
  planNextRotation(policy, { from, lastRotatedAt: null, random: () => 0 });

describe('policy', () => {
  const base = defaultPolicy('api-key');

  it('has per-type defaults', () => {
    expect(base).toEqual({
      schedule: '90d',
      grace: '1h',
      maxVersions: 10,
      maxFailures: 5,
      manual: false,
      checkEvery: '1h',
    });
    expect(defaultPolicy('random').schedule).toBe('365d');
  });

  it('merges a partial policy over the base', () => {
    expect(resolvePolicy({ schedule: '12h', grace: '5m' }, base)).toEqual({
      ...base,
      schedule: '12h',
      grace: '5m',
    });
    expect(resolvePolicy(undefined, base)).toEqual(base);
  });

  it.each([
    [
      { schedule: 'every tuesday' },
      /schedule: expected an interval such as 30d or a cron expression/,
    ],
    [{ schedule: '500ms' }, /schedule: an interval must be at least 1s/],
    [{ grace: '5x' }, /grace: expected a duration/],
    [{ maxVersions: 1 }, /maxVersions/],
    [{ timezone: 'Mars/Olympus' }, /timezone: expected an IANA time zone/],
    [
      { colour: 'blue' },
      /unknown field "colour"; accepted: schedule, timezone, window, jitter, minInterval, blackout, grace, maxVersions, maxFailures, manual, checkEvery/,
    ],
  ])('rejects %j', (input, message) => {
    expect(() => resolvePolicy(input, base)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_POLICY',
        message: expect.stringMatching(message),
      }),
    );
  });

  it('schedules intervals from the given time', () => {
    const from = new Date('2026-01-01T00:00:00Z');
    expect(plan({ ...base, schedule: '30d' }, from)).toEqual(new Date('2026-01-31T00:00:00Z'));
  });

  it('schedules cron expressions in their time zone', () => {
    const from = new Date('2026-07-01T12:00:00Z');
    const policy = { ...base, schedule: '0 3 * * *', timezone: 'Europe/Paris' };
    // 03:00 in Paris during summer time is 01:00 UTC.
    expect(plan(policy, from)).toEqual(new Date('2026-07-02T01:00:00Z'));
  });

  it('never schedules manual secrets', () => {
    expect(plan({ ...base, manual: true }, new Date())).toBeNull();
  });

  it('computes the end of grace', () => {
    expect(graceEndsAt({ ...base, grace: '2h' }, new Date(0))).toEqual(new Date(7_200_000));
  });
});
