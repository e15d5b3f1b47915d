import { describe, expect, it } from 'vitest';
import { RotorError } from '../../src/core/errors.js';
import {
  GENERATED_TYPES,
  type GeneratedType,
  generateValue,
  isGeneratedType,
  parseGeneratorConfig,
} from '../../src/rotators/generated/value-generators.js';
import { chiSquareThreshold } from '../support/chi-square.js';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const SYMBOLS = '!#$%&()*+,-.:;<=>?@[]^_{|}~';
const BASE62_RE = /^[0-9A-Za-z]+$/;

/**
 * Every character of `chars` was counted, uniformly: chi-square at p = 1e-6 and ±10%.
 * Callers draw at least ~4,000 expected counts per character, so ±10% is over 6 sigma.
 */
function expectUniform(counts: ReadonlyMap<string, number>, chars: string): void {
  const observed = [...chars].map((c) => counts.get(c) ?? 0);
  const expected = observed.reduce((a, b) => a + b, 0) / observed.length;
  const chiSquare = observed.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
  expect(Math.min(...observed)).toBeGreaterThan(0);
  expect(chiSquare).toBeLessThan(chiSquareThreshold(observed.length - 1));
  for (const n of observed) expect(Math.abs(n - expected) / expected).toBeLessThan(0.1);
}

function countChars(values: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
  return counts;
}

function configError(type: GeneratedType, raw: unknown): RotorError {
  try {
    parseGeneratorConfig(type, raw);
  } catch (error) {
    expect(error).toBeInstanceOf(RotorError);
    expect((error as RotorError).code).toBe('ERR_INVALID_CONFIG');
    return error as RotorError;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected for ${type}`);
}

describe('generated types', () => {
  it('lists the four generated types', () => {
    expect(GENERATED_TYPES).toEqual(['api-key', 'password', 'jwt-secret', 'random']);
    expect(Object.isFrozen(GENERATED_TYPES)).toBe(true);
  });

  it('recognises generated types and nothing else', () => {
    for (const type of GENERATED_TYPES) expect(isGeneratedType(type)).toBe(true);
    for (const s of ['static', 'PASSWORD', '', '__proto__', 'constructor', 'toString']) {
      expect(isGeneratedType(s)).toBe(false);
    }
  });

  it('refuses a type that is not generated', () => {
    const type = 'static' as GeneratedType;
    expect(() => parseGeneratorConfig(type, {})).toThrow(TypeError);
    expect(() => generateValue(type, {} as never)).toThrow(TypeError);
  });
});

describe('parseGeneratorConfig', () => {
  it.each([
    ['api-key', { bytes: 32, encoding: 'base62', prefix: '' }],
    [
      'password',
      {
        length: 32,
        lowercase: true,
        uppercase: true,
        digits: true,
        symbols: true,
        symbolSet: SYMBOLS,
      },
    ],
    ['jwt-secret', { bytes: 64 }],
    ['random', { bytes: 32, encoding: 'base64' }],
  ] as const)('applies the %s defaults to {}, undefined and undefined fields', (type, defaults) => {
    expect(parseGeneratorConfig(type, {})).toEqual(defaults);
    expect(parseGeneratorConfig(type, undefined)).toEqual(defaults);
    const firstField = Object.keys(defaults)[0] as string;
    expect(parseGeneratorConfig(type, { [firstField]: undefined })).toEqual(defaults);
  });

  it('keeps the given values', () => {
    expect(
      parseGeneratorConfig('api-key', { bytes: 48, encoding: 'hex', prefix: 'rk_live-' }),
    ).toEqual({ bytes: 48, encoding: 'hex', prefix: 'rk_live-' });
    expect(
      parseGeneratorConfig('password', { length: 8, symbols: false, symbolSet: '#@' }),
    ).toEqual({
      length: 8,
      lowercase: true,
      uppercase: true,
      digits: true,
      symbols: false,
      symbolSet: '#@',
    });
    expect(parseGeneratorConfig('random', { bytes: 4096, encoding: 'hex' })).toEqual({
      bytes: 4096,
      encoding: 'hex',
    });
  });

  it.each<[GeneratedType, unknown, string]>([
    ['api-key', { bytes: 15 }, 'bytes'],
    ['api-key', { bytes: 257 }, 'bytes'],
    ['api-key', { bytes: 32.5 }, 'bytes'],
    ['api-key', { bytes: '32' }, 'bytes'],
    ['api-key', { bytes: null }, 'bytes'],
    ['api-key', { encoding: 'base64' }, 'encoding'],
    ['api-key', { prefix: 'has space' }, 'prefix'],
    ['api-key', { prefix: 'dot.ted' }, 'prefix'],
    ['api-key', { prefix: 'x'.repeat(33) }, 'prefix'],
    ['api-key', { prefix: 42 }, 'prefix'],
    ['password', { length: 7 }, 'length'],
    ['password', { length: 1025 }, 'length'],
    ['password', { length: 8.5 }, 'length'],
    ['password', { length: Number.NaN }, 'length'],
    ['password', { lowercase: 'yes' }, 'lowercase'],
    ['password', { uppercase: 1 }, 'uppercase'],
    ['password', { digits: null }, 'digits'],
    ['password', { symbols: 'false' }, 'symbols'],
    ['password', { symbolSet: '' }, 'symbolSet'],
    ['password', { symbolSet: '##' }, 'symbolSet'],
    ['password', { symbolSet: '#a' }, 'symbolSet'],
    ['password', { symbolSet: '#1' }, 'symbolSet'],
    ['password', { symbolSet: '# ' }, 'symbolSet'],
    ['password', { symbolSet: '#\t' }, 'symbolSet'],
    ['password', { symbolSet: '#"' }, 'symbolSet'],
    ['password', { symbolSet: "#'" }, 'symbolSet'],
    ['password', { symbolSet: '#`' }, 'symbolSet'],
    ['password', { symbolSet: '#\\' }, 'symbolSet'],
    ['password', { symbolSet: '#é' }, 'symbolSet'],
    ['password', { symbolSet: ['#'] }, 'symbolSet'],
    [
      'password',
      { lowercase: false, uppercase: false, digits: false, symbolSet: '#' },
      'symbolSet',
    ],
    ['jwt-secret', { bytes: 31 }, 'bytes'],
    ['jwt-secret', { bytes: 513 }, 'bytes'],
    ['random', { bytes: 0 }, 'bytes'],
    ['random', { bytes: 4097 }, 'bytes'],
    ['random', { encoding: 'base64url' }, 'encoding'],
  ])('rejects %s config %j, naming %s', (type, raw, field) => {
    const error = configError(type, raw);
    expect(error.message).toMatch(
      new RegExp(`^invalid config for type ${type}: ${field}: expected `),
    );
    expect(error.message).not.toContain('\n');
  });

  it('says what was expected and what was given', () => {
    expect(configError('password', { length: 4 }).message).toBe(
      'invalid config for type password: length: expected an integer from 8 to 1024 (got 4)',
    );
    expect(configError('api-key', { encoding: 'b64' }).message).toBe(
      'invalid config for type api-key: encoding: expected one of "base62", "hex" (got "b64")',
    );
    expect(configError('random', { bytes: '32' }).message).toBe(
      'invalid config for type random: bytes: expected an integer from 1 to 4096 (got "32")',
    );
  });

  it('rejects unknown fields and lists the accepted ones', () => {
    expect(configError('api-key', { foo: 1 }).message).toBe(
      'invalid config for type api-key: unknown field "foo"; accepted: bytes, encoding, prefix',
    );
    expect(configError('jwt-secret', { bytes: 64, encoding: 'hex' }).message).toBe(
      'invalid config for type jwt-secret: unknown field "encoding"; accepted: bytes',
    );
    expect(configError('random', { a: 1, b: 2, c: 3, d: 4, e: 5 }).message).toBe(
      'invalid config for type random: unknown fields "a", "b", "c" and 2 more; accepted: bytes, encoding',
    );
    expect(configError('password', { Length: 8 }).message).toBe(
      'invalid config for type password: unknown field "Length"; accepted: length, lowercase, uppercase, digits, symbols, symbolSet',
    );
  });

  it('requires at least one password character class', () => {
    const raw = { lowercase: false, uppercase: false, digits: false, symbols: false };
    expect(configError('password', raw).message).toBe(
      'invalid config for type password: expected at least one of lowercase, uppercase, digits, symbols to be true',
    );
  });

  it.each([null, 'length: 8', 42, ['bytes'], true])(
    'rejects a config that is not an object: %j',
    (raw) => {
      for (const type of GENERATED_TYPES) {
        expect(configError(type, raw).message).toMatch(
          new RegExp(`^invalid config for type ${type}: expected an object \\(got `),
        );
      }
    },
  );

  it('never echoes long or multi-line input', () => {
    const long = configError('api-key', { prefix: 'x'.repeat(10_000) }).message;
    expect(long).toBe(
      'invalid config for type api-key: prefix: expected at most 32 characters from A-Z, a-z, 0-9, "_" and "-" (got a string of 10000 characters)',
    );
    const key = configError('random', { ['k'.repeat(10_000)]: 1 }).message;
    expect(key.length).toBeLessThan(150);
    const multiLine = configError('random', { 'a\nb': 1, encoding: 'x\ny' }).message;
    expect(multiLine).not.toContain('\n');
  });
});

describe('password', () => {
  /** Generates `count` passwords and checks every one, then the spread within each class. */
  function checkPasswords(raw: Record<string, unknown>, count: number, classes: string[]): void {
    const config = parseGeneratorConfig('password', raw);
    // Indexed by char code (passwords are ASCII): the class of each character, or -1.
    const classOf = new Int8Array(128).fill(-1);
    classes.forEach((chars, i) => {
      for (const c of chars) classOf[c.charCodeAt(0)] = i;
    });
    const byCode = new Float64Array(128);
    let wrongLength = 0;
    let missingClass = 0;
    let foreign = 0;
    for (let i = 0; i < count; i++) {
      const password = generateValue('password', config);
      if (password.length !== config.length) wrongLength++;
      const seen = classes.map(() => false);
      for (let j = 0; j < password.length; j++) {
        const code = password.charCodeAt(j);
        const k = code < 128 ? (classOf[code] as number) : -1;
        if (k < 0) {
          foreign++;
        } else {
          seen[k] = true;
          byCode[code]++;
        }
      }
      if (seen.includes(false)) missingClass++;
    }
    expect({ wrongLength, missingClass, foreign }).toEqual({
      wrongLength: 0,
      missingClass: 0,
      foreign: 0,
    });
    const counts = new Map([...byCode].map((n, code) => [String.fromCharCode(code), n]));
    for (const chars of classes) expectUniform(counts, chars);
  }

  it('has every class in 100k passwords of length 8, uniform within each class', () => {
    checkPasswords({ length: 8 }, 100_000, [LOWER, UPPER, DIGITS, SYMBOLS]);
  });

  it('has every class in 100k passwords of length 32, uniform within each class', () => {
    checkPasswords({}, 100_000, [LOWER, UPPER, DIGITS, SYMBOLS]);
  });

  it('never uses a disabled class', () => {
    checkPasswords({ length: 8, lowercase: false, symbols: false }, 30_000, [UPPER, DIGITS]);
    checkPasswords({ length: 8, uppercase: false, digits: false }, 30_000, [LOWER, SYMBOLS]);
  });

  it('uses only digits when only digits are enabled', () => {
    const raw = { length: 8, lowercase: false, uppercase: false, symbols: false };
    checkPasswords(raw, 10_000, [DIGITS]);
  });

  it('honours symbolSet', () => {
    const noLetters = { length: 8, lowercase: false, uppercase: false };
    checkPasswords({ ...noLetters, symbolSet: '#@' }, 10_000, [DIGITS, '#@']);
    checkPasswords({ ...noLetters, digits: false, symbolSet: '!?/' }, 10_000, ['!?/']);
    const config = parseGeneratorConfig('password', { length: 8, symbolSet: '#@' });
    const passwords = Array.from({ length: 2_000 }, () => generateValue('password', config));
    const allClasses = /^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[#@])[A-Za-z\d#@]{8}$/;
    expect(passwords.filter((p) => !allClasses.test(p))).toEqual([]);
  });

  it('generates the longest allowed password', () => {
    const config = parseGeneratorConfig('password', { length: 1024 });
    expect(generateValue('password', config)).toHaveLength(1024);
  });
});

describe('api-key', () => {
  it('is 43 base62 characters by default (32 bytes of entropy)', () => {
    const key = generateValue('api-key', parseGeneratorConfig('api-key', {}));
    expect(key).toHaveLength(43);
    expect(key).toMatch(BASE62_RE);
  });

  it.each([
    [16, 22],
    [32, 43],
    [100, 135],
    [256, 344],
  ])('uses enough base62 characters for %i bytes of entropy (%i)', (bytes, length) => {
    const key = generateValue('api-key', parseGeneratorConfig('api-key', { bytes }));
    expect(key).toHaveLength(length);
    expect(key).toMatch(BASE62_RE);
    expect(length * Math.log2(62)).toBeGreaterThanOrEqual(bytes * 8);
    expect((length - 1) * Math.log2(62)).toBeLessThan(bytes * 8);
  });

  it('is 2 × bytes lower-case hex digits with encoding hex', () => {
    for (const bytes of [16, 32, 256]) {
      const key = generateValue(
        'api-key',
        parseGeneratorConfig('api-key', { bytes, encoding: 'hex' }),
      );
      expect(key).toMatch(new RegExp(`^[0-9a-f]{${2 * bytes}}$`));
    }
  });

  it('starts with the prefix', () => {
    const base62 = generateValue(
      'api-key',
      parseGeneratorConfig('api-key', { prefix: 'rk_live_' }),
    );
    expect(base62).toMatch(/^rk_live_[0-9A-Za-z]{43}$/);
    const hex = parseGeneratorConfig('api-key', { prefix: 'ak-', encoding: 'hex', bytes: 16 });
    expect(generateValue('api-key', hex)).toMatch(/^ak-[0-9a-f]{32}$/);
    const longest = parseGeneratorConfig('api-key', { prefix: 'P'.repeat(32) });
    expect(generateValue('api-key', longest)).toMatch(/^P{32}[0-9A-Za-z]{43}$/);
  });

  it('never repeats across 10k keys and spreads evenly over base62', () => {
    const config = parseGeneratorConfig('api-key', {});
    const keys = Array.from({ length: 10_000 }, () => generateValue('api-key', config));
    expect(new Set(keys).size).toBe(keys.length);
    expectUniform(countChars(keys), `${DIGITS}${UPPER}${LOWER}`);
  });
});

describe('jwt-secret', () => {
  it('is 64 random bytes as unpadded base64url by default', () => {
    const secret = generateValue('jwt-secret', parseGeneratorConfig('jwt-secret', {}));
    expect(secret).toMatch(/^[A-Za-z0-9_-]{86}$/);
    const bytes = Buffer.from(secret, 'base64url');
    expect(bytes).toHaveLength(64);
    expect(bytes.toString('base64url')).toBe(secret);
  });

  it.each([32, 33, 512])('honours bytes = %i', (n) => {
    const secret = generateValue('jwt-secret', parseGeneratorConfig('jwt-secret', { bytes: n }));
    expect(secret).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(n);
  });
});

describe('random', () => {
  it('is 32 random bytes as padded base64 by default', () => {
    const value = generateValue('random', parseGeneratorConfig('random', {}));
    expect(value).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(value, 'base64')).toHaveLength(32);
  });

  it.each([1, 2, 3, 31, 4096])('encodes %i bytes as base64 and as hex', (bytes) => {
    const base64 = generateValue('random', parseGeneratorConfig('random', { bytes }));
    expect(base64).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
    expect(base64).toHaveLength(4 * Math.ceil(bytes / 3));
    expect(Buffer.from(base64, 'base64')).toHaveLength(bytes);
    const hex = generateValue('random', parseGeneratorConfig('random', { bytes, encoding: 'hex' }));
    expect(hex).toMatch(new RegExp(`^[0-9a-f]{${2 * bytes}}$`));
  });

  it('does not repeat', () => {
    const config = parseGeneratorConfig('random', { bytes: 16 });
    const values = Array.from({ length: 1_000 }, () => generateValue('random', config));
    expect(new Set(values).size).toBe(values.length);
  });
});
