/**
 * Authenticated, audited reads: requests per second of `GET {name}:value` on
 * Rotor's real server (default SQLite store, every read audited before it is
 * answered), side by side with a bare Fastify route returning a constant body
 * of the same size. The load generator (autocannon) runs in a child process so
 * it does not share an event loop with the server it loads; both servers live
 * in this process and only one is loaded at a time. The machine's speed drifts
 * by a factor of two within seconds, so the two are measured in many short
 * runs, bare and Rotor in turn, starting and ending with bare: each Rotor run
 * is compared with the mean of the bare runs on either side of it, and the
 * ratio is the median of those comparisons.
 * Usage: npm run bench:api [-- --pairs 10 --duration 3 --warmup 3 --connections 50 --out FILE]
 * Writes bench/results/api.json.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { createLogger } from '../src/engine/logger.js';
import { startRotorServer } from '../src/server/rotor-server.js';
import { initRotor } from '../src/service/open-rotor.js';
import { resolveEnvironment } from '../src/service/rotor-environment.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';
import type { LoadRequest, LoadResult } from './api/load-generator.js';
import { machine } from './machine.js';

const GOAL = 0.5;
const SECRET = 'bench/api';
const VALUE_BYTES = 44;
const AUDIT_PAGE = 10_000;

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '10' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    out: { type: 'string', default: fileURLToPath(new URL('./results/api.json', import.meta.url)) },
  },
});
const options = {
  pairs: Number(values.pairs),
  durationSeconds: Number(values.duration),
  warmupSeconds: Number(values.warmup),
  connections: Number(values.connections),
};
for (const [name, value] of Object.entries(options)) {
  if (!Number.isFinite(value) || value <= 0)
    throw new TypeError(`Expected \`${name}\` to be a positive number.`);
}

async function api(url: string, token: string, method: string, body?: unknown): Promise<string> {
  const response = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return text;
}

/** `secret.read` events of the benchmark's secret appended after `seq`. */
async function countReads(store: Store, seq: number): Promise<number> {
  const upTo = (await store.auditHead()).seq;
  let count = 0;
  for (let after = seq; after < upTo; after += AUDIT_PAGE) {
    const page = await store.auditEvents({ afterSeq: after, upToSeq: after + AUDIT_PAGE });
    count += page.filter((e) => e.action === 'secret.read' && e.secret === SECRET).length;
  }
  return count;
}

/** Sends one request to the load generator and waits for its answer. */
function runLoad(child: ChildProcess, request: LoadRequest): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    child.once('message', (message: { result?: LoadResult; error?: string }) =>
      message.result ? resolve(message.result) : reject(new Error(message.error)),
    );
    child.send(request);
  });
}

// Other work on the machine moves both rates (and the fsync latency Rotor waits for): it is recorded.
const loadBefore = loadavg();
const home = mkdtempSync(join(tmpdir(), 'rotor-bench-api-'));
const env = resolveEnvironment({ ROTOR_HOME: home });
const { adminToken } = await initRotor(env);
const rotor = await startRotorServer({
  env,
  host: '127.0.0.1',
  port: 0,
  logger: createLogger('warn'),
  version: 'bench',
  // The defaults of `rotor server`.
  intervalMs: 5_000,
  authFailuresPerMinute: 20,
});
// Read-only access to the same store, to count the audit events the reads appended.
const auditView = await openStore(env.storeUrl, { create: false });
const bare = Fastify();
const loader = fork(fileURLToPath(new URL('./api/load-generator.ts', import.meta.url)), {
  execArgv: ['--import', 'tsx'],
});

try {
  await api(`${rotor.url}/v1/secrets`, adminToken.token, 'POST', {
    name: SECRET,
    type: 'api-key',
    value: randomBytes(VALUE_BYTES).toString('base64').slice(0, VALUE_BYTES),
  });
  // A consumer's token: read on its own subtree only, as an application would hold.
  const { token } = JSON.parse(
    await api(`${rotor.url}/v1/tokens`, adminToken.token, 'POST', {
      name: 'bench-consumer',
      policy: [{ path: 'bench/**', capabilities: ['read'] }],
    }),
  ) as { token: string };
  const rotorUrl = `${rotor.url}/v1/secrets/${SECRET}:value`;
  const rotorBody = await api(rotorUrl, token, 'GET');
  // The same JSON document as a constant: same size, same serialisation work.
  const constant = JSON.parse(rotorBody) as Record<string, unknown>;
  bare.get('/value', async () => constant);
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
  const bareBody = await (await fetch(`${bareUrl}/value`)).text();
  if (bareBody.length !== rotorBody.length)
    throw new Error(`bodies differ in size: bare ${bareBody.length}, Rotor ${rotorBody.length}`);

  const targets = {
    bare: { url: `${bareUrl}/value`, headers: {} },
    rotor: { url: rotorUrl, headers: { authorization: `Bearer ${token}` } },
  } as const;
  type Target = keyof typeof targets;
  const load = (target: Target, amount: number) =>
    runLoad(loader, { ...targets[target], connections: options.connections, amount });
  // Runs are a number of requests sized from the last rate: about `seconds` long.
  const amountFor = (rps: number, seconds: number) =>
    Math.max(options.connections, Math.round(rps * seconds));

  const estimate: Record<Target, number> = { bare: 0, rotor: 0 };
  for (const target of ['bare', 'rotor'] as const) {
    // A short probe sizes the warm-up.
    const probe = await load(target, options.connections * 10);
    estimate[target] = (await load(target, amountFor(probe.rps, options.warmupSeconds))).rps;
    console.log(`warm-up ${target}: ${estimate[target].toFixed(0)} req/s`);
  }

  const runs: Array<
    LoadResult & { target: Target; cpuUsPerRequest: number; auditEvents?: number }
  > = [];
  const measure = async (target: Target) => {
    // Every run ends with every request answered: the audit count can be compared exactly.
    const before = (await auditView.auditHead()).seq;
    const cpuBefore = process.cpuUsage();
    const result = await load(target, amountFor(estimate[target], options.durationSeconds));
    const cpu = process.cpuUsage(cpuBefore);
    // Read events of the benchmark's secret only: the scheduler may append its own meanwhile.
    const auditEvents = target === 'rotor' ? await countReads(auditView, before) : undefined;
    // CPU time of the server process per request: it moves with the machine's speed too.
    const cpuUsPerRequest = (cpu.user + cpu.system) / result.requests;
    estimate[target] = result.rps;
    const run = {
      target,
      ...result,
      cpuUsPerRequest,
      ...(auditEvents === undefined ? {} : { auditEvents }),
    };
    runs.push(run);
    return run;
  };
  const pairRatios: number[] = [];
  let bareBefore = await measure('bare');
  for (let pair = 1; pair <= options.pairs; pair++) {
    const rotorRun = await measure('rotor');
    const bareAfter = await measure('bare');
    const bareRps = (bareBefore.rps + bareAfter.rps) / 2;
    pairRatios.push(rotorRun.rps / bareRps);
    console.log(
      `${pair}: Rotor ${rotorRun.rps.toFixed(0)} req/s (${rotorRun.cpuUsPerRequest.toFixed(0)} µs CPU/request, p99 ${rotorRun.p99Ms} ms, ${rotorRun.auditEvents} audit events for ${rotorRun.ok} reads), bare ${bareBefore.rps.toFixed(0)} and ${bareAfter.rps.toFixed(0)} req/s (${bareAfter.cpuUsPerRequest.toFixed(0)} µs CPU/request): ratio ${(rotorRun.rps / bareRps).toFixed(2)}`,
    );
    bareBefore = bareAfter;
  }

  const of = (target: Target) => runs.filter((r) => r.target === target);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1
      ? (sorted[middle] as number)
      : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  };
  const rotorRuns = of('rotor');
  const bareRuns = of('bare');
  const rotorSummary = {
    rps: mean(rotorRuns.map((r) => r.rps)),
    p50: median(rotorRuns.map((r) => r.p50Ms)),
    p99: median(rotorRuns.map((r) => r.p99Ms)),
    worstP99: Math.max(...rotorRuns.map((r) => r.p99Ms)),
    errors: sum(rotorRuns.map((r) => r.errors)),
    non2xx: sum(rotorRuns.map((r) => r.non2xx)),
    cpuUsPerRequest: median(rotorRuns.map((r) => r.cpuUsPerRequest)),
    successfulReads: sum(rotorRuns.map((r) => r.ok)),
    auditEventsAdded: sum(rotorRuns.map((r) => r.auditEvents ?? 0)),
  };
  const bareSummary = {
    rps: mean(bareRuns.map((r) => r.rps)),
    p99: median(bareRuns.map((r) => r.p99Ms)),
    cpuUsPerRequest: median(bareRuns.map((r) => r.cpuUsPerRequest)),
  };
  const ratio = median(pairRatios);
  const everyReadAudited = rotorSummary.auditEventsAdded === rotorSummary.successfulReads;
  console.log(
    `Rotor ${rotorSummary.rps.toFixed(0)} req/s (p99 ${rotorSummary.p99} ms), bare ${bareSummary.rps.toFixed(0)} req/s: median ratio of ${options.pairs} pairs ${ratio.toFixed(2)} (from ${Math.min(...pairRatios).toFixed(2)} to ${Math.max(...pairRatios).toFixed(2)}; goal ${GOAL}); ${rotorSummary.auditEventsAdded} audit events for ${rotorSummary.successfulReads} reads`,
  );
  writeFileSync(
    values.out,
    `${JSON.stringify(
      {
        benchmark: 'api',
        description: `authenticated, audited GET ${SECRET}:value (a ${VALUE_BYTES}-byte value, read-only token) on Rotor's server with the default SQLite store, against a bare Fastify route returning a constant JSON body of the same size (${rotorBody.length} bytes)`,
        machine: machine(),
        loadAverage: { before: loadBefore, after: loadavg() },
        options,
        loadGenerator:
          'autocannon 8 in a child process (its own event loop and core); both servers in the benchmark process, loaded one at a time',
        method:
          "a probe and a warm-up per server, then fixed-amount runs of about `durationSeconds` each in turn, bare, Rotor, bare, ..., bare, with `pairs` Rotor runs; rps is 2xx responses over the time from the first request to the last response; each Rotor run's ratio is its rps over the mean rps of the bare runs on either side (pairRatios), and ratio is their median; rps is the mean over runs, p50, p99 and CPU per request the median, worstP99 the worst run; auditEventsAdded counts the secret.read events of the benchmark secret appended during the Rotor runs",
        rotor: rotorSummary,
        bare: bareSummary,
        ratio,
        pairRatios,
        ratioOfMeans: rotorSummary.rps / bareSummary.rps,
        goal: GOAL,
        everyReadAudited,
        runs,
      },
      null,
      2,
    )}\n`,
  );
  if (!everyReadAudited || rotorSummary.non2xx > 0 || rotorSummary.errors > 0) {
    console.error(
      `bench:api: Rotor answered ${rotorSummary.successfulReads} reads with ${rotorSummary.auditEventsAdded} audit events, ${rotorSummary.non2xx} non-2xx responses and ${rotorSummary.errors} errors`,
    );
    process.exitCode = 1;
  }
} finally {
  loader.kill();
  await bare.close();
  await auditView.close();
  await rotor.close();
  rmSync(home, { recursive: true, force: true });
}
