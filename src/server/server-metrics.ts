import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RotationOutcome } from '../engine/rotation-engine.js';
import type { Store } from '../store/store.js';

/** Prometheus metrics of one server: rotations it drove, API latency, and the store's secrets at scrape time. */
export class ServerMetrics {
  readonly #registry = new Registry();
  readonly #store: Store;
  readonly #rotations: Counter<'type' | 'kind' | 'outcome'>;
  readonly #rotationSeconds: Histogram<'type'>;
  readonly #requestSeconds: Histogram<'operation' | 'status'>;
  readonly #requestSeries = new Map<string, { observe(seconds: number): void }>();

  constructor(store: Store) {
    this.#store = store;
    const registers = [this.#registry];
    collectDefaultMetrics({ register: this.#registry, prefix: 'rotor_' });
    this.#rotations = new Counter({
      name: 'rotor_rotations_total',
      help: 'Rotations finished by this server, by secret type, kind and outcome',
      labelNames: ['type', 'kind', 'outcome'],
      registers,
    });
    this.#rotationSeconds = new Histogram({
      name: 'rotor_rotation_duration_seconds',
      help: 'From start to finish of rotations this server finished',
      labelNames: ['type'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.#requestSeconds = new Histogram({
      name: 'rotor_api_request_duration_seconds',
      help: 'API request latency by operation and status',
      labelNames: ['operation', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  /**
   * The exposition of one scrape. Gauges describing the store are computed
   * now, so every process sharing it agrees; series naming a secret are
   * limited to those `visible` says the scraping token may list, while the
   * counts cover every secret and name none.
   */
  async exposition(visible: (name: string) => boolean): Promise<string> {
    const secrets = await this.#store.listSecrets();
    const now = Date.now();
    const scrape = new Registry();
    const registers = [scrape];
    const age = new Gauge({
      name: 'rotor_secret_age_seconds',
      help: 'Time since each secret last changed value (rotation or creation)',
      labelNames: ['name', 'type'],
      registers,
    });
    for (const s of secrets) {
      if (!visible(s.name)) continue;
      const changed = s.lastRotatedAt ?? s.createdAt;
      age.set({ name: s.name, type: s.type }, (now - changed.getTime()) / 1000);
    }
    const count = (name: string, help: string, value: number) =>
      new Gauge({ name, help, registers }).set(value);
    count(
      'rotor_secrets_overdue',
      'Secrets whose scheduled rotation time has passed',
      secrets.filter((s) => s.nextRotationAt !== null && s.nextRotationAt.getTime() < now).length,
    );
    count(
      'rotor_secrets_failing',
      'Secrets whose last rotation failed or that need attention',
      secrets.filter((s) => s.failureCount > 0 || s.state === 'needs-attention').length,
    );
    count('rotor_secrets', 'Secrets stored', secrets.length);
    return Registry.merge([this.#registry, scrape]).metrics();
  }

  async recordOutcome(outcome: RotationOutcome): Promise<void> {
    const { rotation } = outcome;
    const type = (await this.#store.getSecret(rotation.secretName))?.type ?? 'deleted';
    this.#rotations.inc({ type, kind: rotation.kind, outcome: outcome.result });
    if (rotation.finishedAt) {
      this.#rotationSeconds.observe(
        { type },
        (rotation.finishedAt.getTime() - rotation.createdAt.getTime()) / 1000,
      );
    }
  }

  observeRequest(operation: string, status: number, seconds: number): void {
    // The labelled series are few (operations by status); finding one by its labels costs more.
    const key = `${operation} ${status}`;
    let series = this.#requestSeries.get(key);
    if (!series) {
      series = this.#requestSeconds.labels(operation, String(status));
      this.#requestSeries.set(key, series);
    }
    series.observe(seconds);
  }
}
