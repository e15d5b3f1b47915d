import { type AuditInput, auditEventHash, canonicalDetails } from '../audit/audit-event.js';
import { RotorError } from '../core/errors.js';
import type { Db } from './kysely-db.js';
import type { AuditEventsTable } from './schema.js';

/** One event to append: what the caller states, and what it concerns. */
export interface AuditEntry {
  readonly input: AuditInput;
  readonly secret: string | null;
  readonly version: number | null;
}

export type AuditEventRow = AuditEventsTable;

// Ten bound values per row: well under SQLite's (32766) and PostgreSQL's (65535) limits.
const ROWS_PER_INSERT = 500;

/** Appends one event to the hash chain inside the caller's transaction. */
export function appendAuditEvent(
  tx: Db,
  input: AuditInput,
  secret: string | null,
  version: number | null,
  now: Date,
): Promise<void> {
  return appendAuditEvents(tx, [{ input, secret, version }], now);
}

/** Appends events to the hash chain, in order, inside the caller's transaction. */
export async function appendAuditEvents(
  tx: Db,
  entries: readonly AuditEntry[],
  now: Date,
): Promise<void> {
  if (entries.length === 0) return;
  // Bumping the head row first locks it, so concurrent transactions append one after another.
  const head = await tx
    .updateTable('audit_head')
    .set((eb) => ({ seq: eb('seq', '+', entries.length) }))
    .where('id', '=', 1)
    .returning(['seq', 'hash'])
    .executeTakeFirstOrThrow(missingHead);
  const rows = chainedAuditRows(entries, Number(head.seq) - entries.length, head.hash, now);
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await tx
      .insertInto('audit_events')
      .values(rows.slice(i, i + ROWS_PER_INSERT))
      .execute();
  }
  await tx
    .updateTable('audit_head')
    .set({ hash: lastHash(rows, head.hash) })
    .where('id', '=', 1)
    .execute();
}

/**
 * The stored rows of `entries`, numbered after `afterSeq` and each hashed over
 * the one before it, starting from `prevHash`: the chain, free of any I/O.
 */
export function chainedAuditRows(
  entries: readonly AuditEntry[],
  afterSeq: number,
  prevHash: string,
  now: Date,
): AuditEventRow[] {
  let seq = afterSeq;
  let previous = prevHash;
  const at = now.getTime();
  return entries.map(({ input, secret, version }) => {
    seq += 1;
    const event = {
      seq,
      at,
      actor: input.actor,
      action: input.action,
      secret,
      version,
      outcome: input.outcome ?? 'success',
      details: canonicalDetails(input.details),
      prevHash: previous,
    };
    previous = auditEventHash(event);
    return {
      seq,
      at,
      actor: event.actor,
      action: event.action,
      secret,
      version,
      outcome: event.outcome,
      details: event.details,
      prev_hash: event.prevHash,
      hash: previous,
    };
  });
}

/** The chain's new head hash once `rows` are appended. */
export function lastHash(rows: readonly AuditEventRow[], prevHash: string): string {
  return rows.at(-1)?.hash ?? prevHash;
}

export function missingHead(): RotorError {
  return new RotorError('ERR_STORE', 'the audit chain head is missing');
}
