import { type AuditInput, auditEventHash, canonicalDetails } from '../audit/audit-event.js';
import { RotorError } from '../core/errors.js';
import type { Db } from './kysely-db.js';

/** Appends one event to the hash chain inside the caller's transaction. */
export async function appendAuditEvent(
  tx: Db,
  input: AuditInput,
  secret: string | null,
  version: number | null,
  now: Date,
): Promise<void> {
  // Bumping the head row first locks it, so concurrent transactions append one after another.
  const head = await tx
    .updateTable('audit_head')
    .set((eb) => ({ seq: eb('seq', '+', 1) }))
    .where('id', '=', 1)
    .returning(['seq', 'hash'])
    .executeTakeFirstOrThrow(() => new RotorError('ERR_STORE', 'the audit chain head is missing'));
  const event = {
    seq: Number(head.seq),
    at: now.getTime(),
    actor: input.actor,
    action: input.action,
    secret,
    version,
    outcome: input.outcome ?? 'success',
    details: canonicalDetails(input.details),
    prevHash: head.hash,
  };
  const hash = auditEventHash(event);
  await tx
    .insertInto('audit_events')
    .values({
      seq: event.seq,
      at: event.at,
      actor: event.actor,
      action: event.action,
      secret,
      version,
      outcome: event.outcome,
      details: event.details,
      prev_hash: event.prevHash,
      hash,
    })
    .execute();
  await tx.updateTable('audit_head').set({ hash }).where('id', '=', 1).execute();
}
