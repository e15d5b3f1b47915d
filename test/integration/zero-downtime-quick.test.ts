import { describe, expect, it } from 'vitest';
import { runScenario } from '../../bench/zero-downtime/run-scenario.js';

/**
 * The quick variant of `npm run bench:zero-downtime`: a few seconds per
 * strategy, real servers, real logins. Alternating and dual-password
 * strategies must never make a client see a refused password.
 */
describe.each(['postgres-alternating', 'mariadb-alternating', 'redis-dual'] as const)(
  'zero downtime: %s',
  (scenario) => {
    it('no client login is refused while Rotor rotates back to back', async () => {
      const result = await runScenario(scenario, {
        workers: 4,
        durationSeconds: 3,
        minRotations: 5,
        cacheSeconds: 0.3,
      });
      expect(result.rotationsCompleted).toBeGreaterThanOrEqual(5);
      expect(result.rotationFailures).toBe(0);
      expect(result.connectionsAttempted).toBeGreaterThan(20);
      expect(result.otherFailures).toBe(0);
      expect(result.authFailures).toBe(0);
    }, 180_000);
  },
);
