import { EventEmitter } from 'node:events';
import type { AuditEvent } from '../audit/audit-event.js';
import type { Store } from '../store/store.js';

/** A change consumers may react to: names and versions, never values. */
export interface RotorEvent {
  /** The audit sequence number: clients resume from it (SSE `Last-Event-ID`). */
  readonly seq: number;
  readonly event: string;
  readonly name: string;
  readonly version: number | null;
  readonly at: string;
}

/** Audit actions published as events, and the name each is published under. */
const PUBLISHED: Readonly<Record<string, string>> = {
  'secret.create': 'secret.created',
  'secret.put': 'secret.updated',
  'secret.updated': 'secret.updated',
  'secret.policy_updated': 'secret.policy_updated',
  'secret.delete': 'secret.deleted',
  'rotation.pending_stored': 'rotation.started',
  'rotation.promoted': 'rotation.promoted',
  'rotation.rolled_back': 'rotation.rolled_back',
  'rotation.failed': 'rotation.failed',
  'rollback.promoted': 'rollback.promoted',
  'version.retired': 'rotation.retired',
};

export function toRotorEvent(audit: AuditEvent): RotorEvent | undefined {
  const event = PUBLISHED[audit.action];
  if (event === undefined || audit.secret === null) return undefined;
  return {
    seq: audit.seq,
    event,
    name: audit.secret,
    version: audit.version,
    at: new Date(audit.at).toISOString(),
  };
}

export interface PendingChange {
  readonly promise: Promise<void>;
  cancel(): void;
}

const BATCH = 500;
const PUBLISHED_ACTIONS = Object.keys(PUBLISHED);

/**
 * Follows the audit trail, which every process sharing the store appends to,
 * and turns its changes into events. Polling the tail is one indexed range
 * query; the interval bounds how late a consumer hears of a rotation.
 */
export class EventFeed {
  readonly #store: Store;
  readonly #intervalMs: number;
  readonly #emitter = new EventEmitter();
  #lastSeq = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;

  constructor(store: Store, intervalMs = 100) {
    this.#store = store;
    this.#intervalMs = intervalMs;
    this.#emitter.setMaxListeners(0);
  }

  async start(): Promise<void> {
    this.#lastSeq = (await this.#store.auditHead()).seq;
    this.#schedule();
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#polling;
    this.#emitter.removeAllListeners();
  }

  subscribe(listener: (event: RotorEvent) => void): () => void {
    this.#emitter.on('event', listener);
    return () => this.#emitter.off('event', listener);
  }

  /** Resolves at the next event about `name`, or after `timeoutMs`. */
  nextFor(name: string, timeoutMs: number): PendingChange {
    let cancel = () => {};
    const promise = new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const unsubscribe = this.subscribe((event) => {
        if (event.name === name) done();
      });
      function done() {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
      cancel = done;
    });
    return { promise, cancel };
  }

  /** Events after `seq`, read from the store page by page: everything a reconnecting client missed. */
  async *since(seq: number, secret?: string): AsyncGenerator<RotorEvent> {
    for (let after = seq; ; ) {
      const page = await this.#store.auditEvents({
        afterSeq: after,
        secret,
        actions: PUBLISHED_ACTIONS,
        limit: BATCH,
      });
      for (const audit of page) {
        const event = toRotorEvent(audit);
        if (event) yield event;
      }
      const last = page.at(-1);
      if (last === undefined || page.length < BATCH) return;
      after = last.seq;
    }
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#polling = this.#poll().finally(() => {
        this.#polling = undefined;
        if (this.#timer !== undefined) this.#schedule();
      });
    }, this.#intervalMs);
  }

  async #poll(): Promise<void> {
    // Only published actions cross into JavaScript: reads, the bulk of the trail, stay in the store.
    let head: number;
    try {
      head = (await this.#store.auditHead()).seq;
    } catch {
      // The store is briefly unavailable: /readyz reports it, the next poll retries.
      return;
    }
    while (this.#lastSeq < head) {
      let events: AuditEvent[];
      try {
        events = await this.#store.auditEvents({
          afterSeq: this.#lastSeq,
          upToSeq: head,
          actions: PUBLISHED_ACTIONS,
          limit: BATCH,
        });
      } catch {
        return;
      }
      for (const audit of events) {
        const event = toRotorEvent(audit);
        if (event) this.#emitter.emit('event', event);
      }
      this.#lastSeq = events.length < BATCH ? head : (events.at(-1) as AuditEvent).seq;
    }
  }
}
