import { type AuditEvent, auditEventHash, GENESIS_HASH } from './audit-event.js';

export type ChainVerdict =
  | { readonly intact: true; readonly events: number; readonly headHash: string }
  | {
      readonly intact: false;
      readonly events: number;
      readonly brokenAt: number;
      readonly reason: string;
    };

/**
 * Walks the chain from the first event, a page at a time: sequence numbers
 * without gaps, each `prevHash` equal to the hash before it, each hash
 * recomputed from the event's own fields, and the end equal to the recorded head.
 */
export class AuditChainVerifier {
  #expectedSeq = 1;
  #previousHash = GENESIS_HASH;
  #broken: ChainVerdict | undefined;

  /** Feeds the next events in order; false once the chain is known to be broken. */
  add(events: Iterable<AuditEvent>): boolean {
    for (const event of events) {
      if (this.#broken) return false;
      if (event.seq !== this.#expectedSeq) {
        const reason =
          event.seq > this.#expectedSeq
            ? `event ${this.#expectedSeq} is missing`
            : `event ${event.seq} is out of order`;
        this.#fail(this.#expectedSeq, reason);
      } else if (event.prevHash !== this.#previousHash) {
        this.#fail(
          event.seq,
          'its link to the previous event does not match (reordered or replaced)',
        );
      } else {
        const { hash, ...rest } = event;
        if (auditEventHash(rest) !== hash) {
          this.#fail(event.seq, 'its content does not match its hash (edited)');
        } else {
          this.#previousHash = hash;
          this.#expectedSeq++;
        }
      }
    }
    return this.#broken === undefined;
  }

  finish(head: { seq: number; hash: string }): ChainVerdict {
    if (this.#broken) return this.#broken;
    const count = this.#expectedSeq - 1;
    if (head.seq !== count) {
      return this.#fail(
        count + 1,
        `the chain ends at event ${count} but the head records ${head.seq} events (tail deleted)`,
      );
    }
    if (head.hash !== this.#previousHash)
      return this.#fail(count, 'the last event does not match the recorded head');
    return { intact: true, events: count, headHash: this.#previousHash };
  }

  #fail(seq: number, reason: string): ChainVerdict {
    this.#broken = { intact: false, events: this.#expectedSeq - 1, brokenAt: seq, reason };
    return this.#broken;
  }
}
