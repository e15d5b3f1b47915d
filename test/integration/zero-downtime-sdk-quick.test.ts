import { describe, expect, it } from 'vitest';
import { SCENARIOS } from '../../bench/zero-downtime/targets.js';
import { runSdkScenario } from '../../bench/zero-downtime-sdk/run-sdk-scenario.js';

/**
 * The quick variant of `npm run bench:zero-downtime-sdk`: a few seconds per
 * strategy, `rotor server`, real targets, clients logging in through the
 * SDK's driver helpers. No strategy may let the application see a refused
 * login; with `single`, the SDK's retry is what closes the window.
 */
describe.each(SCENARIOS)('zero downtime through the SDK: %s', (scenario) => {
  it('no login is refused as the application sees it while Rotor rotates back to back', async () => {
    const result = await runSdkScenario(scenario, {
      workers: 4,
      durationSeconds: 2,
      minRotations: 4,
      graceSeconds: 0.5,
    });
    expect(result.rotationsCompleted).toBeGreaterThanOrEqual(4);
    expect(result.rotationFailures).toBe(0);
    expect(result.connectionsAttempted).toBeGreaterThan(20);
    expect(result.otherFailures).toBe(0);
    expect(result.authFailures).toBe(0);
    if (scenario === 'postgres-single') expect(result.loginsRetried).toBeGreaterThan(0);
    else expect(result.loginsRetried).toBe(0);
  }, 60_000);
});
