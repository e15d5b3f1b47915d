import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/** `npm run bench:api` end to end, with two short pairs: it measures both servers and audits every read. */

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rotor-api-bench-'));

describe('bench:api', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes rates for Rotor and the bare route, with one audit event per successful read', async () => {
    const out = join(dir, 'api.json');
    await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/api.ts',
        '--pairs',
        '2',
        '--duration',
        '0.5',
        '--warmup',
        '0.5',
        '--out',
        out,
      ],
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
    expect(result.pairRatios).toHaveLength(2);
    const [low, high] = [...result.pairRatios].sort((a: number, b: number) => a - b);
    expect(result.ratio).toBeCloseTo((low + high) / 2);
    expect(result.rotor.auditEventsAdded).toBe(result.rotor.successfulReads);
    expect(result.rotor.successfulReads).toBeGreaterThan(0);
    expect(result.runs.map((r: { target: string }) => r.target)).toEqual([
      'bare',
      'rotor',
      'bare',
      'rotor',
      'bare',
    ]);
  });
});
