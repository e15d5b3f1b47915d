import { randomBytes } from 'node:crypto';

/** Digits, then upper-case, then lower-case ASCII letters. */
export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// Each randomBytes call costs microseconds whatever its size, so short strings draw from a
// shared buffer of fresh CSPRNG output; every byte of it is used at most once.
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function takeRandomBytes(n: number): Buffer {
  if (n > POOL_SIZE) return randomBytes(n);
  if (poolOffset + n > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  poolOffset += n;
  return pool.subarray(poolOffset - n, poolOffset);
}

/**
 * Returns `length` characters, each chosen uniformly and independently from
 * `alphabet` (2 to 256 distinct characters) with the system CSPRNG.
 */
export function randomString(alphabet: string, length: number): string {
  if (typeof alphabet !== 'string') {
    throw new TypeError('randomString: alphabet must be a string');
  }
  const chars = [...alphabet];
  const n = chars.length;
  if (n < 2 || n > 256) {
    throw new TypeError(`randomString: alphabet must have 2 to 256 characters (got ${n})`);
  }
  if (new Set(chars).size !== n) {
    throw new TypeError('randomString: alphabet must not repeat a character');
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new TypeError(`randomString: length must be a non-negative integer (got ${length})`);
  }

  // `byte % n` would favour the first `256 % n` characters. Rejecting bytes at or above the
  // largest multiple of n that fits in a byte makes every remainder equally likely.
  const limit = 256 - (256 % n);
  const out: string[] = [];
  while (out.length < length) {
    // Ask for enough bytes to finish in one round on average; a short round just loops.
    const bytes = takeRandomBytes(Math.ceil(((length - out.length) * 256) / limit) + 8);
    for (const byte of bytes) {
      if (byte < limit) {
        out.push(chars[byte % n]);
        if (out.length === length) break;
      }
    }
  }
  return out.join('');
}
