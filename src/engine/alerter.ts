import type { SinkType } from '../core/sink.js';
import type { Logger } from './logger.js';

/** A rotation that needs a human: it failed, or the secret is parked. Never carries a value. */
export interface Alert {
  readonly secret: string;
  /** 0 when the alert is not about a rotation (a drift check, a sink). */
  readonly rotation: number;
  readonly step: string;
  readonly message: string;
  readonly needsAttention: boolean;
  /** The sink that failed to publish, by its position in the policy's `sinks`. */
  readonly sink?: { readonly index: number; readonly type: SinkType } | undefined;
}

export interface Alerter {
  alert(alert: Alert): Promise<void>;
}

/**
 * Alerts go to the log and, when `ROTOR_ALERT_WEBHOOK` is set, to that URL
 * as JSON. A failing alert destination is logged, never fatal to a rotation.
 */
export function createAlerter(
  logger: Logger,
  webhookUrl = process.env.ROTOR_ALERT_WEBHOOK,
): Alerter {
  return {
    async alert(alert) {
      logger.warn({ alert }, `rotation alert: ${alert.secret}: ${alert.message}`);
      if (!webhookUrl) return;
      try {
        const response = await fetch(webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ event: 'rotation.alert', ...alert }),
          signal: AbortSignal.timeout(5_000),
        });
        await response.body?.cancel();
        if (!response.ok)
          logger.error({ status: response.status }, 'alert webhook refused the alert');
      } catch (error) {
        logger.error({ reason: (error as Error).message }, 'alert webhook unreachable');
      }
    },
  };
}
