import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SecretValue } from '../../src/core/secret-value.js';
import { MasterKeyring } from '../../src/crypto/master-keyring.js';
import { RotationEngine } from '../../src/engine/rotation-engine.js';
import { SecretService } from '../../src/service/secret-service.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { median } from '../machine.js';
import {
  AuthFailure,
  type Credential,
  type ScenarioName,
  startTarget,
  type Target,
} from './targets.js';

export interface ScenarioOptions {
  /** Client workers opening fresh connections in a loop. */
  readonly workers: number;
  /** Seconds of load; the run goes on until `minRotations` are done as well. */
  readonly durationSeconds: number;
  readonly minRotations: number;
  /** How long a client keeps a credential it read from Rotor, like an application cache. */
  readonly cacheSeconds: number;
  /** Grace beyond the cache time, covering a login that started just before the cache expired (default 0.5). */
  readonly graceMarginSeconds?: number;
}

export interface ScenarioResult {
  readonly scenario: ScenarioName;
  readonly connectionsAttempted: number;
  readonly authFailures: number;
  readonly otherFailures: number;
  readonly rotationsCompleted: number;
  readonly rotationFailures: number;
  readonly rotationMs: { readonly p50: number; readonly p99: number };
  readonly graceSeconds: number;
  readonly seconds: number;
}

const SECRET = 'bench/credential';

/**
 * K clients log in over and over with the credential they read from Rotor
 * (cached for at most `cacheSeconds`) while Rotor rotates it as often as the
 * protocol allows: a new rotation starts once the previous version's grace
 * (the cache time plus a margin) is over. Every refused login is counted.
 */
export async function runScenario(
  scenario: ScenarioName,
  options: ScenarioOptions,
): Promise<ScenarioResult> {
  const graceSeconds = options.cacheSeconds + (options.graceMarginSeconds ?? 0.5);
  return withBenchRotor(
    scenario,
    `${Math.ceil(graceSeconds * 1000)}ms`,
    async ({ target, store, secrets, engine }) => {
      let cached: { credential: Credential; until: number } | undefined;
      let reading: Promise<Credential> | undefined;
      const credential = async (): Promise<Credential> => {
        if (cached && cached.until > performance.now()) return cached.credential;
        reading ??= secrets.reveal(SECRET, { stage: 'current' }, 'bench-client').then((read) => {
          const fresh = JSON.parse(read.value.reveal()) as Credential;
          cached = { credential: fresh, until: performance.now() + options.cacheSeconds * 1000 };
          reading = undefined;
          return fresh;
        });
        return reading;
      };

      const counts = { attempted: 0, auth: 0, other: 0 };
      let running = true;
      const worker = async () => {
        while (running) {
          const c = await credential();
          counts.attempted++;
          try {
            await target.login(c);
          } catch (error) {
            if (error instanceof AuthFailure) counts.auth++;
            else counts.other++;
          }
        }
      };
      const started = performance.now();
      const workers = Array.from({ length: options.workers }, worker);

      const durations: number[] = [];
      let rotationFailures = 0;
      while (
        (performance.now() - started) / 1000 < options.durationSeconds ||
        durations.length < options.minRotations
      ) {
        const previous = (await store.listVersions(SECRET)).find((v) => v.stage === 'previous');
        if (previous?.graceUntil)
          await sleep(Math.max(0, previous.graceUntil.getTime() - Date.now()) + 10);
        await engine.runOnce('bench');
        const rotationStart = performance.now();
        const outcome = await engine.rotate(SECRET, 'bench');
        if (outcome.result === 'promoted') durations.push(performance.now() - rotationStart);
        else rotationFailures++;
      }
      running = false;
      await Promise.all(workers);
      return {
        scenario,
        connectionsAttempted: counts.attempted,
        authFailures: counts.auth,
        otherFailures: counts.other,
        rotationsCompleted: durations.length,
        rotationFailures,
        rotationMs: { p50: percentile(durations, 0.5), p99: percentile(durations, 0.99) },
        graceSeconds,
        seconds: (performance.now() - started) / 1000,
      };
    },
  );
}

export interface ThroughputResult {
  /** Raw rotations and Rotor rotations measured, one of each per pair. */
  readonly pairs: number;
  /** Pairs run first and left out, so that connections and caches are warm. */
  readonly warmup: number;
  /** From the median duration of each kind. */
  readonly rawPerSecond: number;
  readonly rotorPerSecond: number;
  /** Median over the pairs of raw time / Rotor time: load spikes on the machine hit one pair, not the result. */
  readonly ratio: number;
  /** Total raw time / total Rotor time, spikes included. */
  readonly ratioOfTotals: number;
  readonly goal: number;
}

const THROUGHPUT_WARMUP = 5;
/** A pause before each timed run, so that neither side pays for work the other left running. */
const THROUGHPUT_SETTLE_MS = 25;

/**
 * PostgreSQL rotate-and-verify rate through Rotor against the raw rate of the
 * same work by hand (ALTER ROLE as admin on a fresh connection, then a fresh
 * login with the new password), in pairs on one cluster. Every other pair runs
 * Rotor first, so neither side always follows the other's disk writes.
 */
export async function measureThroughput(pairs: number): Promise<ThroughputResult> {
  return withBenchRotor('postgres-single', '1s', async ({ target, secrets, engine }) => {
    const timed = async (work: () => Promise<void>): Promise<number> => {
      await sleep(THROUGHPUT_SETTLE_MS);
      const start = performance.now();
      await work();
      return performance.now() - start;
    };
    const raw = async () => {
      const password = randomBytes(18).toString('base64url');
      const ms = await timed(async () => target.rawRotate?.(password));
      // Rotor's own rotations must start from the value it stores: put the raw one back.
      await secrets.put(
        SECRET,
        SecretValue.fromString(JSON.stringify({ ...target.initial, password })),
        'bench',
      );
      return ms;
    };
    const rotor = () =>
      timed(async () => {
        const outcome = await engine.rotate(SECRET, 'bench');
        if (outcome.result !== 'promoted') throw new Error(`rotation failed: ${outcome.error}`);
      });
    const rawMs: number[] = [];
    const rotorMs: number[] = [];
    for (let i = 0; i < THROUGHPUT_WARMUP + pairs; i++) {
      const rotorFirst = i % 2 === 1;
      const first = await (rotorFirst ? rotor() : raw());
      const second = await (rotorFirst ? raw() : rotor());
      if (i < THROUGHPUT_WARMUP) continue;
      rawMs.push(rotorFirst ? second : first);
      rotorMs.push(rotorFirst ? first : second);
    }
    // The value stored as current must still work: every pair changed the real password.
    const last = JSON.parse(
      (await secrets.reveal(SECRET, { stage: 'current' }, 'bench')).value.reveal(),
    ) as Credential;
    await target.login(last);
    const sum = (samples: number[]) => samples.reduce((a, b) => a + b, 0);
    return {
      pairs,
      warmup: THROUGHPUT_WARMUP,
      rawPerSecond: 1000 / median(rawMs),
      rotorPerSecond: 1000 / median(rotorMs),
      ratio: median(rawMs.map((ms, i) => ms / (rotorMs[i] as number))),
      ratioOfTotals: sum(rawMs) / sum(rotorMs),
      goal: 0.8,
    };
  });
}

interface BenchRotor {
  readonly target: Target;
  readonly store: Store;
  readonly secrets: SecretService;
  readonly engine: RotationEngine;
}

/**
 * An in-process Rotor on a temporary SQLite store managing the scenario's
 * credential (`bench/credential`, manual, with this grace) and its admin
 * credential; everything, the target included, is removed afterwards.
 */
async function withBenchRotor<T>(
  scenario: ScenarioName,
  grace: string,
  work: (rotor: BenchRotor) => Promise<T>,
): Promise<T> {
  const target = await startTarget(scenario);
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-'));
  const store = await openStore(`sqlite:${join(dir, 'rotor.db')}`, { create: true });
  try {
    const keyring = new MasterKeyring([{ version: 1, key: randomBytes(32) }]);
    const secrets = new SecretService(store, keyring);
    const engine = new RotationEngine({
      store,
      keyring,
      owner: `bench:${process.pid}`,
      alerter: { alert: async () => undefined },
    });
    const json = (value: unknown) => SecretValue.fromString(JSON.stringify(value));
    if (target.admin) {
      await secrets.create(
        {
          name: 'bench/admin',
          type: 'password',
          value: json(target.admin),
          policy: { manual: true },
        },
        'bench',
      );
    }
    await secrets.create(
      {
        name: SECRET,
        type: target.type,
        config: target.config,
        value: json(target.initial),
        policy: { manual: true, grace },
      },
      'bench',
    );
    return await work({ target, store, secrets, engine });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    await target.stop();
  }
}

export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}
