import type { AuditInput } from '../audit/audit-event.js';
import type { NewToken } from './store.js';

/** An API token as stored: only the hash of its value. */
export interface TokenRecord {
  readonly id: string;
  readonly hash: string;
  readonly name: string;
  /** As stored; parsed by the access layer, which owns its shape. */
  readonly policy: unknown;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
}

export interface TokenStore {
  create(token: NewToken, audit: AuditInput): Promise<TokenRecord>;
  find(id: string): Promise<TokenRecord | undefined>;
  /** Tokens not revoked, oldest first. */
  list(): Promise<TokenRecord[]>;
  /** Marks the token revoked; false when no live token has this id. */
  revoke(id: string, audit: AuditInput): Promise<boolean>;
}
