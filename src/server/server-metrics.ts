import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SecretSummary } from '../core/secret.js';
import type { RotationOutcome } from '../engine/rotation-engine.js';
import type { Store } from '../store/store.js';

/** Prometheus metrics of one server: rotations it drove, API latency, and the store's secrets at scrape time. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #store: Store;
  readonly #rotations: Counter<'type' | 'kind' | 'outcome'>;
  readonly #rotationSeconds: Histogram<'type'>;
  readonly #requestSeconds: Histogram<'operation' | 'status'>;
  readonly #requestSeries = new Map<string, { observe(seconds: number): void }>();
  #pendingCensus: Promise<{ secrets: SecretSummary[]; now: number }> | undefined;

  constructor(store: Store) {
    this.#store = store;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'rotor_' });
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
    // Gauges describing the store are computed when scraped, so every process sharing it
    // agrees. prom-client collects all metrics of a scrape at once: one census serves the four.
    const census = () => this.#census();
    new Gauge({
      name: 'rotor_secret_age_seconds',
      help: 'Time since each secret last changed value (rotation or creation)',
      labelNames: ['name', 'type'],
      registers,
      async collect() {
        const { secrets, now } = await census();
        this.reset();
        for (const s of secrets) {
          const changed = s.lastRotatedAt ?? s.createdAt;
          this.set({ name: s.name, type: s.type }, (now - changed.getTime()) / 1000);
        }
      },
    });
    new Gauge({
      name: 'rotor_secrets_overdue',
      help: 'Secrets whose scheduled rotation time has passed',
      registers,
      async collect() {
        const { secrets, now } = await census();
        this.set(
          secrets.filter((s) => s.nextRotationAt !== null && s.nextRotationAt.getTime() < now)
            .length,
        );
      },
    });
    new Gauge({
      name: 'rotor_secrets_failing',
      help: 'Secrets whose last rotation failed or that need attention',
      registers,
      async collect() {
        const { secrets } = await census();
        this.set(secrets.filter((s) => s.failureCount > 0 || s.state === 'needs-attention').length);
      },
    });
    new Gauge({
      name: 'rotor_secrets',
      help: 'Secrets stored',
      registers,
      async collect() {
        this.set((await census()).secrets.length);
      },
    });
  }

  /** The store's secrets at this scrape: read once, shared by the gauges collected together. */
  #census(): Promise<{ secrets: SecretSummary[]; now: number }> {
    this.#pendingCensus ??= this.#store
      .listSecrets()
      .then((secrets) => ({ secrets, now: Date.now() }))
      .finally(() => {
        this.#pendingCensus = undefined;
      });
    return this.#pendingCensus;
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
