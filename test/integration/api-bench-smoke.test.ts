import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/** `npm run bench:api` end to end, with one-second runs: it measures both servers and audits every read. */

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rotor-api-bench-'));

describe('bench:api', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes rates for Rotor and the bare route, with one audit event per successful read', async () => {
    const out = join(dir, 'api.json');
    await run(
      process.execPath,
      ['--import', 'tsx', 'bench/api.ts', '--duration', '0.5', '--warmup', '0.5', '--out', out],
      { cwd: new URL('../..', import.meta.url), timeout: 60_000 },
    );
    const result = JSON.parse(readFileSync(out, 'utf8'));
    expect(result).toMatchObject({
      benchmark: 'api',
      goal: 0.5,
      everyReadAudited: true,
      rotor: { errors: 0, non2xx: 0 },
    });
    expect(result.rotor.rps).toBeGreaterThan(0);
    expect(result.bare.rps).toBeGreaterThan(0);
    expect(result.rotor.p99).toBeGreaterThan(0);
    expect(result.ratio).toBeCloseTo(result.rotor.rps / result.bare.rps);
    expect(result.rotor.auditEventsAdded).toBe(result.rotor.successfulReads);
    expect(result.rotor.successfulReads).toBeGreaterThan(0);
    expect(result.runs.map((r: { target: string }) => r.target)).toEqual([
      'bare',
      'rotor',
      'bare',
      'rotor',
    ]);
  });
});
