import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BASE62, randomString } from '../../src/crypto/random-string.js';
import { chiSquareThreshold } from '../support/chi-square.js';

interface Uniformity {
  unexpected: number;
  missing: number;
  chiSquare: number;
  threshold: number;
  maxRelativeDeviation: number;
}

/** How far `sample` is from uniform over `alphabet` (both BMP characters, no surrogates). */
function uniformity(sample: string, alphabet: string): Uniformity {
  const byCode = new Float64Array(0x10000);
  for (let i = 0; i < sample.length; i++) byCode[sample.charCodeAt(i)]++;
  const counts = [...alphabet].map((c) => byCode[c.charCodeAt(0)] as number);
  const inAlphabet = counts.reduce((a, b) => a + b, 0);
  const expected = sample.length / counts.length;
  let chiSquare = 0;
  let maxRelativeDeviation = 0;
  for (const n of counts) {
    chiSquare += (n - expected) ** 2 / expected;
    maxRelativeDeviation = Math.max(maxRelativeDeviation, Math.abs(n - expected) / expected);
  }
  return {
    unexpected: sample.length - inAlphabet,
    missing: counts.filter((n) => n === 0).length,
    chiSquare,
    threshold: chiSquareThreshold(counts.length - 1),
    maxRelativeDeviation,
  };
}

function expectUniform(sample: string, alphabet: string): void {
  const u = uniformity(sample, alphabet);
  expect(u.unexpected).toBe(0);
  expect(u.missing).toBe(0);
  expect(u.chiSquare).toBeLessThan(u.threshold);
  expect(u.maxRelativeDeviation).toBeLessThan(0.1);
}

/** An alphabet of `n` distinct single-code-unit characters, starting at "!". */
function alphabetOfSize(n: number): string {
  return Array.from({ length: n }, (_, i) => String.fromCodePoint(0x21 + i)).join('');
}

/** At least 100k draws, and enough (4,000 a character) that ±10% is over 6 standard deviations. */
function drawsFor(alphabet: string): number {
  return Math.max(100_000, [...alphabet].length * 4_000);
}

/** The biased sampler randomString must not be: one byte per character, reduced mod n. */
function naiveRandomString(alphabet: string, length: number): string {
  const chars = [...alphabet];
  return Array.from(randomBytes(length), (byte) => chars[byte % chars.length]).join('');
}

describe('randomString', () => {
  it('returns the requested number of characters from the alphabet', () => {
    expect(randomString(BASE62, 0)).toBe('');
    expect(randomString('ab', 1)).toMatch(/^[ab]$/);
    expect(randomString(BASE62, 1000)).toMatch(/^[0-9A-Za-z]{1000}$/);
  });

  it('counts the alphabet and the length in code points', () => {
    const value = randomString('😀😁', 10);
    expect([...value]).toHaveLength(10);
    expect(value).toMatch(/^(?:😀|😁){10}$/u);
  });

  it('exports the 62 alphanumeric characters as BASE62', () => {
    expect(BASE62).toHaveLength(62);
    expect(new Set(BASE62).size).toBe(62);
    expect(BASE62).toMatch(/^[0-9A-Za-z]+$/);
  });

  it.each([
    ['a non-string alphabet', 42 as unknown as string, 1],
    ['a one-character alphabet', 'a', 1],
    ['an empty alphabet', '', 1],
    ['a 257-character alphabet', alphabetOfSize(257), 1],
    ['a repeated character', 'abca', 1],
    ['a negative length', BASE62, -1],
    ['a fractional length', BASE62, 1.5],
    ['a NaN length', BASE62, Number.NaN],
    ['an infinite length', BASE62, Number.POSITIVE_INFINITY],
  ])('throws TypeError for %s', (_, alphabet, length) => {
    expect(() => randomString(alphabet, length)).toThrow(TypeError);
  });

  it('accepts a 256-character alphabet (no byte is rejected)', () => {
    expectUniform(
      randomString(alphabetOfSize(256), drawsFor(alphabetOfSize(256))),
      alphabetOfSize(256),
    );
  });

  it('is uniform over BASE62 across 25k short calls (250k characters)', () => {
    const draws = Array.from({ length: 25_000 }, () => randomString(BASE62, 10)).join('');
    expectUniform(draws, BASE62);
  });

  it.each([
    ['BASE62', BASE62],
    ['7 characters (256 % 7 = 4)', 'abcdefg'],
    ['100 characters (256 % 100 = 56)', alphabetOfSize(100)],
    ['200 characters (256 % 200 = 56)', alphabetOfSize(200)],
  ])('is uniform over %s in one long draw', (_, alphabet) => {
    expectUniform(randomString(alphabet, drawsFor(alphabet)), alphabet);
  });

  it('uses a check that detects modulo bias: byte % 200 fails it', () => {
    const alphabet = alphabetOfSize(200);
    const u = uniformity(naiveRandomString(alphabet, drawsFor(alphabet)), alphabet);
    expect(u.missing).toBe(0);
    // Characters 0..55 come up twice as often as the rest (2/256 against 1/256).
    expect(u.chiSquare).toBeGreaterThan(u.threshold * 10);
    expect(u.maxRelativeDeviation).toBeGreaterThan(0.1);
  });
});
