/**
 * Zero downtime through the SDK: the zero-downtime benchmark's targets and
 * back-to-back rotations, with clients logging in through `rotor/client`'s
 * driver helpers against `rotor server` instead of caching the value
 * themselves. Goal: no refused login visible to the application, for every
 * strategy, `single` included.
 * Usage: npm run bench:zero-downtime-sdk [-- --duration 20 --workers 8 --rotations 30 --grace 1]
 * Writes bench/results/zero-downtime-sdk.json.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { machine } from './machine.js';
import { SCENARIOS } from './zero-downtime/targets.js';
import { runSdkScenario, type SdkScenarioResult } from './zero-downtime-sdk/run-sdk-scenario.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    workers: { type: 'string', default: '8' },
    rotations: { type: 'string', default: '30' },
    grace: { type: 'string', default: '1' },
  },
});
const options = {
  durationSeconds: Number(values.duration),
  workers: Number(values.workers),
  minRotations: Number(values.rotations),
  graceSeconds: Number(values.grace),
};

const scenarios: SdkScenarioResult[] = [];
for (const scenario of SCENARIOS) {
  const result = await runSdkScenario(scenario, options);
  console.log(
    `${scenario}: ${result.connectionsAttempted} logins, ${result.authFailures} refused as seen by the application (${result.loginsRetried} retried by the SDK), ${result.otherFailures} other failures, ${result.rotationsCompleted} rotations (p50 ${result.rotationMs.p50.toFixed(1)} ms, p99 ${result.rotationMs.p99.toFixed(1)} ms), SDK refreshed after p50 ${result.propagationMs.p50.toFixed(1)} ms, p99 ${result.propagationMs.p99.toFixed(1)} ms`,
  );
  scenarios.push(result);
}
writeFileSync(
  new URL('./results/zero-downtime-sdk.json', import.meta.url),
  `${JSON.stringify(
    {
      benchmark: 'zero-downtime-sdk',
      machine: machine(),
      options,
      client: {
        sdk: 'rotor/client with its defaults (TTL 30 s, refresh on the event stream)',
        token: 'read and list on the credential only',
        helpers: 'pgPool (maxUses 1: every query logs in), mysqlConnection, redisClient',
      },
      goal: '0 authentication failures visible to the application for every strategy, single included',
      met: scenarios.every((s) => s.authFailures === 0 && s.otherFailures === 0),
      scenarios,
    },
    null,
    2,
  )}\n`,
);
