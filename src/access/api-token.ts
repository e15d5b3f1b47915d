import { hash } from 'node:crypto';
import { BASE62, randomString } from '../crypto/random-string.js';

export interface IssuedToken {
  readonly id: string;
  /** Shown to the user once, never stored. */
  readonly token: string;
  readonly hash: string;
}

const TOKEN_FORMAT = /^rtk_([A-Za-z0-9]{12})_[A-Za-z0-9]{43}$/;

/**
 * A token is `rtk_<id>_<secret>`: the id finds the row, and only the SHA-256
 * of the whole token is stored. The secret part carries 256 bits, so a fast
 * hash is enough (there is nothing to brute-force).
 */
export function issueToken(): IssuedToken {
  const id = randomString(BASE62, 12);
  const token = `rtk_${id}_${randomString(BASE62, 43)}`;
  return { id, token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

/** The id part of a well-formed token, or undefined for anything else. */
export function tokenId(token: string): string | undefined {
  return TOKEN_FORMAT.exec(token)?.[1];
}

/**
 * Compares a presented token with a stored hash in constant time. Every API
 * request does this, so the two hex digests are compared as strings: decoding
 * them into buffers for timingSafeEqual tripled the cost.
 */
export function tokenMatches(token: string, storedHash: string): boolean {
  const presented = hashToken(token);
  let difference = presented.length ^ storedHash.length;
  for (let i = 0; i < presented.length; i++) {
    difference |= presented.charCodeAt(i) ^ storedHash.charCodeAt(i);
  }
  return difference === 0;
}
