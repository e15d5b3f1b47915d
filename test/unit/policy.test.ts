import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { defaultPolicy, graceEndsAt, type Policy, resolvePolicy } from '../../src/core/policy.js';
import { planNextRotation } from '../../src/core/rotation-schedule.js';
import { fileModeOf, type Sink } from '../../src/core/sink.js';

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
      /unknown field "colour"; accepted: schedule, timezone, window, jitter, minInterval, blackout, grace, maxVersions, maxFailures, manual, checkEvery, sinks/,
    ],
  ])('rejects %j', (input, message) => {
    expect(() => resolvePolicy(input, base)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_POLICY',
        message: expect.stringMatching(message),
      }),
    );
  });

  it('accepts file, exec and webhook sinks and keeps them as given', () => {
    const sinks: Sink[] = [
      { type: 'file', path: '/etc/app/api-key', format: 'raw' },
      { type: 'file', path: '/etc/app/db.env', format: 'env', mode: '0640' },
      { type: 'file', path: '/etc/app/db.json', format: 'json', mode: 0o400 },
      { type: 'exec', command: ['/usr/local/bin/reload-app', '--graceful'] },
      { type: 'webhook', url: 'https://hooks.example.com/rotor' },
    ];
    expect(resolvePolicy({ sinks }, base)).toEqual({ ...base, sinks });
    expect(resolvePolicy({ grace: '2h' }, { ...base, sinks }).sinks).toEqual(sinks);
  });

  it('reads a file mode from an octal string or an integer, 0600 by default', () => {
    expect(fileModeOf(undefined)).toBe(0o600);
    expect(fileModeOf('0640')).toBe(0o640);
    expect(fileModeOf('600')).toBe(0o600);
    expect(fileModeOf(0o444)).toBe(0o444);
    expect(fileModeOf('0800')).toBeUndefined();
    expect(fileModeOf(640)).toBeUndefined();
  });

  const file = { type: 'file', path: '/run/app/key', format: 'raw' };
  it.each([
    [{ sinks: file }, /^invalid policy: sinks: expected a list of sinks/],
    [
      { sinks: [{ type: 'ftp' }] },
      /^invalid policy: sinks\.0\.type: expected a sink \{type: file \| exec \| webhook/,
    ],
    [{ sinks: ['/run/app/key'] }, /^invalid policy: sinks\.0: expected a sink/],
    [
      { sinks: [{ ...file, path: 'run/app/key' }] },
      /^invalid policy: sinks\.0\.path: expected an absolute file path .* \(got "run\/app\/key"\)/,
    ],
    [
      { sinks: [{ ...file, path: '/run/app/' }] },
      /^invalid policy: sinks\.0\.path: expected an absolute/,
    ],
    [
      { sinks: [{ ...file, format: 'yaml' }] },
      /^invalid policy: sinks\.0\.format: expected raw, env or json \(got "yaml"\)/,
    ],
    [
      { sinks: [{ type: 'file', path: '/run/app/key' }] },
      /^invalid policy: sinks\.0\.format: expected raw, env or json$/,
    ],
    [
      { sinks: [{ ...file, mode: 640 }] },
      /^invalid policy: sinks\.0\.mode: expected permission bits .* \(got 640\)/,
    ],
    [
      { sinks: [{ ...file, mode: 'rw-r-----' }] },
      /^invalid policy: sinks\.0\.mode: expected permission bits/,
    ],
    [
      { sinks: [file, { ...file, owner: 'app' }] },
      /^invalid policy: sinks\.1: unknown field "owner"; accepted: type, path, format, mode$/,
    ],
    [
      { sinks: [{ type: 'exec', command: [] }] },
      /^invalid policy: sinks\.0\.command: expected the command as a non-empty list/,
    ],
    [
      { sinks: [{ type: 'exec', command: 'reload-app --now' }] },
      /^invalid policy: sinks\.0\.command: expected the command as a non-empty list of strings, program first \(run without a shell\)/,
    ],
    [
      { sinks: [{ type: 'exec', command: [''] }] },
      /^invalid policy: sinks\.0\.command: expected the command/,
    ],
    [
      { sinks: [{ type: 'webhook', url: 'ftp://example.com/x' }] },
      /^invalid policy: sinks\.0\.url: expected an http:\/\/ or https:\/\/ URL/,
    ],
    [
      { sinks: [{ type: 'webhook', url: 'https://example.com', secret: 'x' }] },
      /^invalid policy: sinks\.0: unknown field "secret"; accepted: type, url$/,
    ],
    [
      { sinks: Array.from({ length: 11 }, () => file) },
      /^invalid policy: sinks: expected at most 10 sinks/,
    ],
  ])('rejects the sinks of %j naming the field', (input, message) => {
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
