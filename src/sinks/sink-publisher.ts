import type { Actor } from '../audit/audit-event.js';
import type { Random } from '../core/rotation-schedule.js';
import type { SecretValue } from '../core/secret-value.js';
import type { Sink, SinkType } from '../core/sink.js';
import { openValue } from '../crypto/envelope.js';
import type { MasterKeyring } from '../crypto/master-keyring.js';
import type { Alerter } from '../engine/alerter.js';
import { sanitizedMessage } from '../engine/error-message.js';
import type { SinkDeliveryRecord } from '../store/sink-outbox.js';
import type { Store } from '../store/store.js';
import { deliverExecSink } from './exec-sink.js';
import { deliverFileSink } from './file-sink.js';
import type { SinkEvent } from './sink-event.js';
import { deliverWebhookSink } from './webhook-sink.js';

/** What became of one queued delivery in a drain. */
export interface SinkPublication {
  readonly secret: string;
  readonly version: number;
  readonly sink: number;
  readonly type: SinkType;
  readonly event: string;
  /** `obsolete`: a newer version became current first, so this one was not published. */
  readonly result: 'delivered' | 'obsolete' | 'failed';
  /** Sanitised failure, and when the delivery is tried again. */
  readonly error?: string | undefined;
  readonly retryAt?: Date | undefined;
}

export interface SinkPublisherOptions {
  readonly store: Store;
  readonly keyring: MasterKeyring;
  readonly alerter: Alerter;
  readonly now?: () => Date;
  readonly random?: Random;
}

const BATCH = 100;
/** Longer than the slowest sink may take (an exec sink's 30 s), so a live delivery is never taken twice. */
const CLAIM_MS = 120_000;
const RETRY_BASE_MS = 30_000;
const RETRY_CAP_MS = 3_600_000;
/** Finished deliveries stay this long for inspection; the audit trail keeps their outcome for good. */
const FINISHED_KEPT_MS = 7 * 86_400_000;
const PRUNE_BATCH = 1_000;

/**
 * Drains the sink outbox: publishes each queued delivery whose version is
 * still current, and retries failures with backoff. Delivery is at least
 * once: a process that dies mid-delivery leaves it to be made again.
 */
export class SinkPublisher {
  readonly #store: Store;
  readonly #keyring: MasterKeyring;
  readonly #alerter: Alerter;
  readonly #now: () => Date;
  readonly #random: Random;

  constructor(options: SinkPublisherOptions) {
    this.#store = options.store;
    this.#keyring = options.keyring;
    this.#alerter = options.alerter;
    this.#now = options.now ?? (() => new Date());
    this.#random = options.random ?? Math.random;
  }

  /**
   * Makes every due delivery (of one secret when `secret` is given); a failed sink never throws.
   * A drain of every secret also deletes deliveries finished more than a week ago, a batch at a time.
   */
  async drain(actor: Actor, secret?: string): Promise<SinkPublication[]> {
    const outbox = this.#store.rotations.outbox;
    const publications: SinkPublication[] = [];
    const seen = new Set<number>();
    for (;;) {
      const due = (await outbox.due(this.#now(), BATCH, secret)).filter((d) => !seen.has(d.id));
      if (due.length === 0) {
        if (secret === undefined) {
          await outbox.prune(new Date(this.#now().getTime() - FINISHED_KEPT_MS), PRUNE_BATCH);
        }
        return publications;
      }
      for (const delivery of due) {
        seen.add(delivery.id);
        const until = new Date(this.#now().getTime() + CLAIM_MS);
        if (await outbox.claim(delivery, until))
          publications.push(await this.#publish(delivery, actor));
      }
    }
  }

  async #publish(delivery: SinkDeliveryRecord, actor: Actor): Promise<SinkPublication> {
    const outbox = this.#store.rotations.outbox;
    const publication = {
      secret: delivery.secretName,
      version: delivery.version,
      sink: delivery.sinkIndex,
      type: delivery.sink.type,
      event: delivery.event,
    };
    // Publishing an older value over a newer one would undo a rotation for the sink's consumers.
    if (!delivery.isCurrent) {
      await outbox.finish(delivery.id, 'obsolete', { actor, action: 'sink.obsolete' });
      return { ...publication, result: 'obsolete' };
    }
    const attempt = delivery.attempts + 1;
    let value: SecretValue | undefined;
    try {
      value = await this.#valueOf(delivery.secretName, delivery.version);
      await deliver(delivery.sink, eventOf(delivery), value);
    } catch (error) {
      const message = sanitizedMessage(error, value ? [value] : []);
      const retryAt = new Date(this.#now().getTime() + retryDelayMs(attempt, this.#random));
      await outbox.fail(delivery.id, message, retryAt, {
        actor,
        action: 'sink.failed',
        details: { attempt },
      });
      await this.#alerter.alert({
        secret: delivery.secretName,
        rotation: 0,
        step: 'sink',
        sink: { index: delivery.sinkIndex, type: delivery.sink.type },
        message: `sink ${delivery.sinkIndex} (${delivery.sink.type}) failed to publish version ${delivery.version} (attempt ${attempt}): ${message}; retrying after ${retryAt.toISOString()}`,
        needsAttention: false,
      });
      return { ...publication, result: 'failed', error: message, retryAt };
    }
    await outbox.finish(delivery.id, 'delivered', {
      actor,
      action: 'sink.delivered',
      details: { attempt },
    });
    return { ...publication, result: 'delivered' };
  }

  async #valueOf(name: string, version: number): Promise<SecretValue> {
    const { sealed } = await this.#store.rotations.sealedVersion(name, version);
    return openValue(sealed, { secret: name, version }, this.#keyring);
  }
}

function deliver(sink: Sink, event: SinkEvent, value: SecretValue): Promise<void> {
  switch (sink.type) {
    case 'file':
      return deliverFileSink(sink, event, value);
    case 'exec':
      return deliverExecSink(sink, event, value);
    case 'webhook':
      return deliverWebhookSink(sink, event);
  }
}

function eventOf(delivery: SinkDeliveryRecord): SinkEvent {
  return {
    event: delivery.event,
    secret: delivery.secretName,
    version: delivery.version,
    at: delivery.createdAt,
  };
}

/** Exponential from 30 s, capped at an hour, times a 0.5..1 jitter so failing sinks do not retry in step. */
function retryDelayMs(attempt: number, random: Random): number {
  const exponential = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
  return Math.round(exponential * (0.5 + random() / 2));
}
