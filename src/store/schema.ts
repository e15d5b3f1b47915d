import type { Generated } from 'kysely';

/**
 * Row types shared by the SQLite and PostgreSQL stores. Times are epoch
 * milliseconds and booleans 0/1 so one query layer serves both databases.
 */
export interface Database {
  secrets: SecretsTable;
  versions: VersionsTable;
  rotations: RotationsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  tokens: TokensTable;
  master_keys: MasterKeysTable;
  sink_deliveries: SinkDeliveriesTable;
}

export interface SecretsTable {
  id: Generated<number>;
  name: string;
  type: string;
  config: string;
  policy: string;
  state: string;
  last_version: number;
  next_rotation_at: number | null;
  next_check_at: number | null;
  last_rotated_at: number | null;
  failure_count: number;
  created_at: number;
  updated_at: number;
}

export interface VersionsTable {
  id: Generated<number>;
  secret_id: number;
  number: number;
  stage: string | null;
  state: string;
  ciphertext: Buffer | null;
  wrapped_key: Buffer | null;
  master_key_version: number | null;
  created_at: number;
  grace_until: number | null;
  destroyed_at: number | null;
}

export interface RotationsTable {
  id: Generated<number>;
  secret_id: number;
  kind: string;
  state: string;
  from_version: number;
  to_version: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  attempt: number;
  error: string | null;
  dry_run: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface AuditEventsTable {
  seq: number;
  at: number;
  actor: string;
  action: string;
  secret: string | null;
  version: number | null;
  outcome: string;
  details: string;
  prev_hash: string;
  hash: string;
}

/** Every column of `audit_events`, in table order: for SQL written without the query builder. */
export const AUDIT_EVENT_COLUMNS = [
  'seq',
  'at',
  'actor',
  'action',
  'secret',
  'version',
  'outcome',
  'details',
  'prev_hash',
  'hash',
] as const satisfies ReadonlyArray<keyof AuditEventsTable>;

export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface TokensTable {
  id: string;
  hash: string;
  name: string;
  policy: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface MasterKeysTable {
  version: number;
  key_check: string;
  created_at: number;
}

export interface SinkDeliveriesTable {
  id: Generated<number>;
  secret_id: number;
  version: number;
  sink_index: number;
  /** The sink's JSON as it was when the version became current. */
  sink: string;
  event: string;
  attempts: number;
  next_attempt_at: number;
  /** Sanitised: never a value. */
  last_error: string | null;
  /** `delivered`, or `obsolete` when a newer version became current first; null while pending. */
  outcome: string | null;
  created_at: number;
  delivered_at: number | null;
}
