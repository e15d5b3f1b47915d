/**
 * Zero downtime, measured: clients keep logging in with the credential they
 * read from Rotor while Rotor rotates it back to back, for each strategy.
 * Usage: npm run bench:zero-downtime [-- --duration 30 --workers 8 --cache 1 --pairs 100]
 * Writes bench/results/zero-downtime.json; `--only throughput` (or `--only scenarios`)
 * runs one part and prints it without writing the results file.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { machine } from './machine.js';
import { measureThroughput, runScenario } from './zero-downtime/run-scenario.js';
import { SCENARIOS } from './zero-downtime/targets.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    workers: { type: 'string', default: '8' },
    cache: { type: 'string', default: '0.5' },
    rotations: { type: 'string', default: '30' },
    pairs: { type: 'string', default: '100' },
    only: { type: 'string' },
  },
});
if (values.only !== undefined && !['throughput', 'scenarios'].includes(values.only)) {
  throw new TypeError(
    `--only: expected "throughput" or "scenarios" (got ${JSON.stringify(values.only)})`,
  );
}
const options = {
  durationSeconds: Number(values.duration),
  workers: Number(values.workers),
  cacheSeconds: Number(values.cache),
  minRotations: Number(values.rotations),
  throughputPairs: Number(values.pairs),
};

const scenarios = [];
for (const scenario of values.only === 'throughput' ? [] : SCENARIOS) {
  const result = await runScenario(scenario, options);
  console.log(
    `${scenario}: ${result.connectionsAttempted} logins, ${result.authFailures} refused, ${result.rotationsCompleted} rotations (p50 ${result.rotationMs.p50.toFixed(1)} ms, p99 ${result.rotationMs.p99.toFixed(1)} ms)`,
  );
  scenarios.push(result);
}
const throughput =
  values.only === 'scenarios' ? undefined : await measureThroughput(options.throughputPairs);
if (throughput) {
  console.log(
    `postgres rotate+verify: raw ${throughput.rawPerSecond.toFixed(1)}/s, Rotor ${throughput.rotorPerSecond.toFixed(1)}/s, ratio ${throughput.ratio.toFixed(2)} (of totals ${throughput.ratioOfTotals.toFixed(2)}; goal ${throughput.goal})`,
  );
}
if (values.only === undefined) {
  writeFileSync(
    new URL('./results/zero-downtime.json', import.meta.url),
    `${JSON.stringify(
      {
        benchmark: 'zero-downtime',
        machine: machine(),
        options,
        goal: '0 authentication failures for alternating and dual-password; single reports the real window',
        scenarios,
        throughput: {
          ...throughput,
          comparedTo:
            'ALTER ROLE with a SCRAM verifier on a fresh admin connection, then a fresh login, by hand',
        },
      },
      null,
      2,
    )}\n`,
  );
}
