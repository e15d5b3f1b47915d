import type { Logger } from '../engine/logger.js';
import type { RotationEngine } from '../engine/rotation-engine.js';
import type { ServerMetrics } from './server-metrics.js';

/**
 * Runs the engine's due work (`rotor run --once`) again and again: pending
 * crash recovery, due rotations, ended graces, due drift checks. A failing
 * run is logged and retried at the next tick; it never stops the loop.
 */
export class SchedulerLoop {
  readonly #engine: RotationEngine;
  readonly #metrics: ServerMetrics;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: {
    engine: RotationEngine;
    metrics: ServerMetrics;
    logger: Logger;
    intervalMs: number;
  }) {
    this.#engine = options.engine;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs;
  }

  start(): void {
    this.#tick(0);
  }

  /** Claims no more work and waits for the run in progress, which finishes or releases its leases. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #tick(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#running = this.#runOnce().finally(() => {
        this.#running = undefined;
        if (!this.#stopped) this.#tick(this.#intervalMs);
      });
    }, delayMs);
  }

  async #runOnce(): Promise<void> {
    try {
      const summary = await this.#engine.runOnce('scheduler', () => this.#stopped);
      for (const outcome of summary.outcomes) await this.#metrics.recordOutcome(outcome);
      if (summary.outcomes.length > 0 || summary.checks.length > 0) {
        this.#logger.info(
          { rotations: summary.outcomes.length, checks: summary.checks.length },
          'scheduler run finished',
        );
      }
    } catch (error) {
      this.#logger.error(
        { reason: (error as Error).message },
        'scheduler run failed; retrying at the next tick',
      );
    }
  }
}
