import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertSecretName } from '../../src/core/secret-name.js';

describe('assertSecretName', () => {
  it.each(['prod/db/app', 'a', 'x.y_z-1/v2', 'a'.repeat(256)])('accepts %s', (name) => {
    expect(() => assertSecretName(name)).not.toThrow();
  });

  it.each([
    ['../x', /"\.\." segment/],
    ['A B', /outside \[a-z0-9._-\]/],
    ['', /empty/],
    ['a'.repeat(300), /300 characters/],
    ['trailing/', /starts or ends with "\/"/],
    ['/leading', /starts or ends with "\/"/],
    ['a//b', /empty segment/],
    ['a/./b', /"\." segment/],
    ['prod:db', /outside/],
  ])('rejects %j', (name, reason) => {
    expect(() => assertSecretName(name)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_NAME', message: expect.stringMatching(reason) }),
    );
  });

  it('accepts exactly the names made of valid segments', () => {
    const segment = fc.stringMatching(/^[a-z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 8 }), (segments) => {
        const name = segments.join('/');
        if (name.length <= 256) expect(() => assertSecretName(name)).not.toThrow();
      }),
    );
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), (name) => {
        let valid = true;
        try {
          assertSecretName(name);
        } catch {
          valid = false;
        }
        expect(valid).toBe(validBySegments(name));
      }),
    );
  });

  it('agrees with the segment rules on names made mostly of dots and slashes', () => {
    const edgy = fc
      .array(fc.constantFrom('a', '.', '/', '-', 'Z', ':'), { minLength: 1, maxLength: 12 })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(edgy, (name) => {
        const valid = (() => {
          try {
            assertSecretName(name);
            return true;
          } catch {
            return false;
          }
        })();
        expect(valid, name).toBe(validBySegments(name));
      }),
      { numRuns: 5_000 },
    );
  });
});

function validBySegments(name: string): boolean {
  return (
    !name.startsWith('/') &&
    !name.endsWith('/') &&
    name.split('/').every((s) => /^[a-z0-9._-]+$/.test(s) && s !== '.' && s !== '..')
  );
}
