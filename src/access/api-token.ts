import { createHash } from 'node:crypto';
import { BASE62, randomString } from '../crypto/random-string.js';

/** One capability a token policy grants on a path glob. */
export type Capability = 'read' | 'list' | 'write' | 'rotate' | 'admin';

export interface TokenPolicyRule {
  readonly path: string;
  readonly capabilities: readonly Capability[];
}

export const ADMIN_POLICY: readonly TokenPolicyRule[] = [
  { path: '**', capabilities: ['read', 'list', 'write', 'rotate', 'admin'] },
];

export interface IssuedToken {
  readonly id: string;
  /** Shown to the user once, never stored. */
  readonly token: string;
  readonly hash: string;
}

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
  return createHash('sha256').update(token).digest('hex');
}
