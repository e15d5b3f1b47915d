import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, describeResult, type RotorSandbox } from '../support/rotor-sandbox.js';

interface StatusRow {
  readonly name: string;
  readonly type: string;
  readonly currentVersion: number;
  readonly state: string;
  readonly failures: number;
  readonly nextRotationAt: string | null;
}

const UNREACHABLE = JSON.stringify({ webhook: { url: 'http://127.0.0.1:1/hook' } });

/** `rotor status` and `rotor rotate --cancel` as an operator uses them. */
describe('rotor status', () => {
  let sandbox: RotorSandbox;

  const ok = async (args: string[], env: Record<string, string> = {}) => {
    const result = await sandbox.rotor(args, { env });
    expect(result.code, describeResult(result)).toBe(0);
    return result;
  };

  beforeAll(async () => {
    sandbox = await createSandbox('sqlite', 'status');
    await Promise.all([
      ok(['secret', 'create', 'st/ok', '--type', 'api-key']),
      ok(['secret', 'create', 'st/grace', '--type', 'api-key', '--grace', '1h']),
      ok(['secret', 'create', 'st/overdue', '--type', 'password']),
      ok(['secret', 'create', 'st/failing', '--type', 'api-key', '--config', UNREACHABLE]),
      ok([
        'secret',
        'create',
        'st/parked',
        '--type',
        'api-key',
        '--config',
        UNREACHABLE,
        '--max-failures',
        '1',
      ]),
      ok(['secret', 'create', 'st/rotating', '--type', 'jwt-secret']),
    ]);
    await ok(['rotate', 'st/grace']);
    await sandbox.location.query('update secrets set next_rotation_at = 1000 where name = ?', [
      'st/overdue',
    ]);
    const failed = await sandbox.rotor(['rotate', 'st/failing']);
    expect(failed.code, describeResult(failed)).toBe(1);
    const parked = await sandbox.rotor(['rotate', 'st/parked']);
    expect(parked.code, describeResult(parked)).toBe(1);
    const killed = await sandbox.rotor(['rotate', 'st/rotating'], {
      env: { ROTOR_FAILPOINT: 'after:apply' },
    });
    expect(killed.signal, describeResult(killed)).toBe('SIGKILL');
  }, 300_000);

  afterAll(async () => {
    await sandbox?.destroy();
  });

  it('says what state every secret is in, and exits 0', async () => {
    const rows = JSON.parse((await ok(['status', '--json'])).stdout) as StatusRow[];
    const states = Object.fromEntries(rows.map((r) => [r.name, r.state]));
    expect(states).toEqual({
      'st/failing': 'failing',
      'st/grace': 'in-grace',
      'st/ok': 'ok',
      'st/overdue': 'overdue',
      'st/parked': 'needs-attention',
      'st/rotating': 'rotating',
    });
    expect(rows.find((r) => r.name === 'st/parked')).toMatchObject({
      failures: 1,
      nextRotationAt: null,
    });
    expect(rows.find((r) => r.name === 'st/grace')?.currentVersion).toBe(2);
    const table = (await ok(['status'])).stdout;
    expect(table.split('\n')[0]).toMatch(
      /^NAME\s+TYPE\s+VERSION\s+AGE\s+LAST ROTATION\s+NEXT ROTATION\s+STATE$/,
    );
  });

  it('cancels the rotation in flight: rolled back, nothing pending, no longer rotating', async () => {
    const cancelled = JSON.parse(
      (await ok(['rotate', 'st/rotating', '--cancel', '--json'])).stdout,
    );
    expect(cancelled).toMatchObject({
      name: 'st/rotating',
      result: 'cancelled',
      state: 'rolled_back',
      fromVersion: 1,
      toVersion: 2,
    });
    const history = await sandbox.history('st/rotating');
    expect(history.map((v) => [v.version, v.stages, v.state])).toEqual([
      [2, [], 'discarded'],
      [1, ['current'], 'active'],
    ]);
    const again = await sandbox.rotor(['rotate', 'st/rotating', '--cancel']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^rotor: secret st\/rotating has no rotation in flight/);
    const rows = JSON.parse((await ok(['status', '--json'])).stdout) as StatusRow[];
    expect(rows.find((r) => r.name === 'st/rotating')?.state).toBe('ok');
  });
});
