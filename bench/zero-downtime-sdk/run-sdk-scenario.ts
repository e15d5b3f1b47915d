import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient, secretPath } from '../../src/sdk/api-client.js';
import { createClient } from '../../src/sdk/rotor-client.js';
import { startTestServer } from '../../test/support/rotor-server.js';
import { percentile } from '../zero-downtime/run-scenario.js';
import { type ScenarioName, startTarget } from '../zero-downtime/targets.js';
import { sdkWorkload } from './sdk-workload.js';
import { createTargetSecrets } from './target-secrets.js';

export interface SdkScenarioOptions {
  /** Client workers, each logging in afresh in a loop. */
  readonly workers: number;
  /** Seconds of load; the run goes on until `minRotations` are done as well. */
  readonly durationSeconds: number;
  readonly minRotations: number;
  /** The secret's grace period; each rotation starts once the previous one's is over. */
  readonly graceSeconds: number;
}

export interface SdkScenarioResult {
  readonly scenario: ScenarioName;
  /** Fresh logins the application asked the SDK for, each followed by one query. */
  readonly connectionsAttempted: number;
  /** Refused logins the application saw (the SDK's retry failed too, or was not tried). */
  readonly authFailures: number;
  /** Logins the target refused and the SDK retried, unseen by the application. */
  readonly loginsRetried: number;
  readonly otherFailures: number;
  readonly rotationsCompleted: number;
  readonly rotationFailures: number;
  /** `POST :rotate` as the client of the API sees it. */
  readonly rotationMs: { readonly p50: number; readonly p99: number };
  /** From the end of `POST :rotate` to the SDK holding the new version (event stream + refresh). */
  readonly propagationMs: { readonly p50: number; readonly p99: number };
  readonly graceSeconds: number;
  readonly seconds: number;
}

const SECRET = 'bench/credential';

/**
 * `rotor server` (in process, SQLite) manages the scenario's credential;
 * K workers log in through the SDK's driver helpers with a token that may
 * only read and list that secret, with the SDK's defaults (30 s TTL, refresh
 * on the event stream), while rotations run back to back through the API.
 */
export async function runSdkScenario(
  scenario: ScenarioName,
  options: SdkScenarioOptions,
): Promise<SdkScenarioResult> {
  const target = await startTarget(scenario);
  const server = await startTestServer().catch(async (error: unknown) => {
    await target.stop();
    throw error;
  });
  try {
    const admin = new ApiClient({ url: server.url, token: server.adminToken });
    await createTargetSecrets(
      admin,
      target,
      SECRET,
      `${Math.round(options.graceSeconds * 1000)}ms`,
    );
    const { body: appToken } = await admin.request<{ token: string }>('POST', '/v1/tokens', {
      body: { name: 'bench-app', policy: [{ path: SECRET, capabilities: ['read', 'list'] }] },
    });
    const client = createClient({ url: server.url, token: appToken.token });
    const counts = { attempted: 0, auth: 0, retried: 0, other: 0 };
    const workload = sdkWorkload(scenario, client, SECRET, options.workers, () => {
      counts.retried++;
    });
    const seen = new Map<number, number>();
    client.watch(SECRET, (entry) => seen.set(entry.version, performance.now()));
    await client.get(SECRET);
    await client.subscribed();
    try {
      let running = true;
      const worker = async () => {
        while (running) {
          counts.attempted++;
          try {
            await workload.connectAndQuery();
          } catch (error) {
            if (workload.isAuthFailure(error)) counts.auth++;
            else counts.other++;
          }
        }
      };
      const started = performance.now();
      const workers = Array.from({ length: options.workers }, worker);

      const durations: number[] = [];
      const propagation: number[] = [];
      let rotationFailures = 0;
      while (
        (performance.now() - started) / 1000 < options.durationSeconds ||
        durations.length < options.minRotations
      ) {
        await graceOver(admin);
        const rotationStart = performance.now();
        const { body: outcome } = await admin.request<{ result: string; toVersion: number }>(
          'POST',
          secretPath(SECRET, 'rotate'),
        );
        const rotated = performance.now();
        if (outcome.result !== 'promoted') {
          rotationFailures++;
          continue;
        }
        durations.push(rotated - rotationStart);
        propagation.push((await seenAt(seen, outcome.toVersion)) - rotated);
      }
      running = false;
      await Promise.all(workers);
      return {
        scenario,
        connectionsAttempted: counts.attempted,
        authFailures: counts.auth,
        loginsRetried: counts.retried,
        otherFailures: counts.other,
        rotationsCompleted: durations.length,
        rotationFailures,
        rotationMs: { p50: percentile(durations, 0.5), p99: percentile(durations, 0.99) },
        propagationMs: { p50: percentile(propagation, 0.5), p99: percentile(propagation, 0.99) },
        graceSeconds: options.graceSeconds,
        seconds: (performance.now() - started) / 1000,
      };
    } finally {
      await workload.close();
      await client.close();
    }
  } finally {
    await server.close();
    await target.stop();
  }
}

/** Waits until the previous version's grace is over (a rotation would end it early). */
async function graceOver(admin: ApiClient): Promise<void> {
  const { body: versions } = await admin.request<{ stages: string[]; graceUntil: string | null }[]>(
    'GET',
    secretPath(SECRET, 'versions'),
  );
  const previous = versions.find((v) => v.stages.includes('previous'));
  if (previous?.graceUntil) {
    await sleep(Math.max(0, Date.parse(previous.graceUntil) - Date.now()) + 10);
  }
}

/** When the SDK first held `version` (waiting for it, up to 10 s). */
async function seenAt(seen: Map<number, number>, version: number): Promise<number> {
  const deadline = performance.now() + 10_000;
  while (!seen.has(version) && performance.now() < deadline) await sleep(2);
  return seen.get(version) ?? Number.NaN;
}
