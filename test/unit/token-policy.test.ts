import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ADMIN_POLICY,
  allows,
  allowsEverywhere,
  parseTokenPolicy,
  pathMatches,
} from '../../src/access/token-policy.js';
import { RotorError } from '../../src/core/errors.js';

describe('pathMatches', () => {
  it.each([
    ['prod/db/*', 'prod/db/app', true],
    ['prod/db/*', 'prod/db/app/replica', false],
    ['prod/db/*', 'prod/db', false],
    ['prod/**', 'prod', true],
    ['prod/**', 'prod/db/app/replica', true],
    ['prod/**', 'production/db', false],
    ['**', 'anything/at/all', true],
    ['**/key', 'a/b/key', true],
    ['**/key', 'key', true],
    ['**/key', 'a/b/keys', false],
    ['prod/**/app', 'prod/app', true],
    ['prod/**/app', 'prod/eu/db/app', true],
    ['prod/**/app', 'prod/eu/db/apps', false],
    ['prod/db-*', 'prod/db-main', true],
    ['prod/db-*', 'prod/cache-main', false],
    ['prod/*-main', 'prod/db-main', true],
    ['prod/a*b*c', 'prod/aXbYc', true],
    ['prod/a*b*c', 'prod/abc', true],
    ['prod/a*b*c', 'prod/acb', false],
    ['prod/ab*ba', 'prod/aba', false],
    ['prod/db/app', 'prod/db/app', true],
    ['prod/db/app', 'prod/db/ap', false],
    ['prod/*/app', 'prod/db/app', true],
    ['prod/*/app', 'prod/app', false],
  ])('%s against %s is %s', (glob, name, expected) => {
    expect(pathMatches(glob, name)).toBe(expected);
  });

  it('agrees with a regular-expression reading of the same glob', () => {
    const segment = fc.stringMatching(/^[ab*]{1,4}$/);
    const nameSegment = fc.stringMatching(/^[ab]{1,4}$/);
    const glob = fc
      .array(fc.oneof(segment, fc.constant('**')), { minLength: 1, maxLength: 4 })
      .map((s) => s.join('/'));
    const name = fc.array(nameSegment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
    fc.assert(
      fc.property(glob, name, (g, n) => {
        expect(pathMatches(g, n)).toBe(globRegExp(g).test(n));
      }),
      { numRuns: 3000 },
    );
  });
});

/**
 * The reference, over the name with a leading `/`: a `**` segment stands for
 * zero or more `/segment`s, any other for one `/segment` where `*` is any run of characters.
 */
function globRegExp(glob: string): { test(name: string): boolean } {
  const source = glob
    .split('/')
    .map((part) => (part === '**' ? '(?:/[^/]+)*' : `/${part.replaceAll('*', '[^/]*')}`))
    .join('');
  const pattern = new RegExp(`^${source}$`);
  return { test: (name) => pattern.test(`/${name}`) };
}

describe('allows', () => {
  const policy = parseTokenPolicy([
    { path: 'prod/db/*', capabilities: ['read', 'list'] },
    { path: 'staging/**', capabilities: ['write'] },
  ]);

  it('grants a capability only where a rule with it matches', () => {
    expect(allows(policy, 'read', 'prod/db/app')).toBe(true);
    expect(allows(policy, 'write', 'prod/db/app')).toBe(false);
    expect(allows(policy, 'read', 'staging/db/app')).toBe(false);
    expect(allows(policy, 'write', 'staging/db/app')).toBe(true);
  });

  it('gives the same answers when asked again, for each policy on its own', () => {
    const other = parseTokenPolicy([{ path: 'prod/**', capabilities: ['write'] }]);
    for (let round = 0; round < 3; round++) {
      expect(allows(policy, 'read', 'prod/db/app')).toBe(true);
      expect(allows(policy, 'list', 'prod/db/app')).toBe(true);
      expect(allows(policy, 'write', 'prod/db/app')).toBe(false);
      expect(allows(other, 'write', 'prod/db/app')).toBe(true);
      expect(allows(other, 'read', 'prod/db/app')).toBe(false);
    }
    const long = `staging/${'a'.repeat(300)}`;
    expect(allows(policy, 'write', long)).toBe(true);
    expect(allows(policy, 'write', long)).toBe(true);
  });

  it('counts only `**` rules as everywhere', () => {
    expect(allowsEverywhere(policy, 'write')).toBe(false);
    expect(allowsEverywhere(ADMIN_POLICY, 'admin')).toBe(true);
  });
});

describe('parseTokenPolicy', () => {
  it.each([
    [[], 'policy: expected at least one rule'],
    [{}, 'policy: expected a list of {path, capabilities} rules (got an object)'],
    [[{ path: 'prod/*', capabilities: ['fly'] }], 'policy: 0.capabilities.0: expected one of'],
    [[{ path: '/prod', capabilities: ['read'] }], 'policy: 0.path: expected a path glob'],
    [
      [{ path: 'prod', capabilities: [] }],
      'policy: 0.capabilities: expected at least one capability',
    ],
    [[{ path: 'prod', capabilities: ['read'], extra: 1 }], 'policy: unknown field "extra"'],
  ])('refuses %j naming the field', (input, message) => {
    expect(() => parseTokenPolicy(input)).toThrowError(RotorError);
    expect(() => parseTokenPolicy(input)).toThrowError(message);
  });
});
