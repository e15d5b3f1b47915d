import type { AuditEvent } from '../audit/audit-event.js';
import { AuditChainVerifier, type ChainVerdict } from '../audit/audit-verifier.js';
import type { Store } from '../store/store.js';

const PAGE = 1_000;

/**
 * Verifies the whole chain a page at a time, so memory stays flat however
 * long the trail. The head is read first and only events up to it are
 * checked: events appended meanwhile by other processes are not a break.
 */
export async function verifyAudit(store: Store): Promise<ChainVerdict> {
  const verifier = new AuditChainVerifier();
  const head = await store.auditHead();
  let afterSeq = 0;
  for (;;) {
    const page = await store.auditEvents({ afterSeq, upToSeq: head.seq, limit: PAGE });
    if (!verifier.add(page) || page.length < PAGE) break;
    afterSeq = page.at(-1)?.seq ?? afterSeq;
  }
  return verifier.finish(head);
}

export async function tailAudit(
  store: Store,
  last: number,
  secret?: string,
): Promise<AuditEvent[]> {
  return store.auditEvents({ last, secret });
}
