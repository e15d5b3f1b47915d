import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRotor } from '../../src/service/open-rotor.js';
import { resolveEnvironment } from '../../src/service/rotor-environment.js';
import { SecretService } from '../../src/service/secret-service.js';
import type { StoreDialect } from '../../src/store/store.js';
import {
  createSandbox,
  describeResult,
  type RotorSandbox,
  type RunOnceJson,
  type TimedResult,
} from '../support/rotor-sandbox.js';
import { STORE_DIALECTS } from '../support/test-stores.js';
import { WebhookTarget } from '../support/webhook-target.js';

/**
 * Two `rotor run --once` processes started at the same moment over one store
 * holding 200 due secrets: leases and the store's constraints must share the
 * work so that each secret is rotated exactly once, and the audit chain stays
 * one unbroken line although both processes append to it.
 */

const SECRETS = 200;
const HOOK_TIMEOUT = 300_000;
const TEST_TIMEOUT = 120_000;
const names = Array.from({ length: SECRETS }, (_, i) => `load/s-${String(i).padStart(3, '0')}`);

interface VersionRow {
  name: string;
  number: number | string;
  stage: string | null;
  state: string;
}

describe.concurrent.each<StoreDialect>(STORE_DIALECTS)(
  'two run --once processes (%s store)',
  (dialect) => {
    let sandbox: RotorSandbox;
    let target: WebhookTarget;
    let runs: TimedResult[];
    let parsed: RunOnceJson[];
    const firstValues = new Map<string, string>();

    beforeAll(async () => {
      target = new WebhookTarget();
      await target.start();
      sandbox = await createSandbox(dialect, 'two_proc');

      // 200 CLI processes would take minutes: create the secrets in-process, through the same service.
      const { store, keyring } = await openRotor(resolveEnvironment(sandbox.env));
      try {
        const secrets = new SecretService(store, keyring);
        const config = { webhook: { url: target.url } };
        for (let i = 0; i < names.length; i += 20) {
          await Promise.all(
            names.slice(i, i + 20).map(async (name) => {
              await secrets.create({ name, type: 'api-key', config }, 'test');
              // The target accepts each first version, as a real service would before Rotor takes over.
              const first = (await secrets.reveal(name, { stage: 'current' }, 'test')).value;
              firstValues.set(name, first.reveal());
              target.accepted.add(first.reveal());
            }),
          );
        }
      } finally {
        await store.close();
      }
      // All of them due now (their 90d schedule is otherwise far away).
      await sandbox.location.query('update secrets set next_rotation_at = ?', [Date.now() - 1_000]);

      runs = await Promise.all([
        sandbox.rotor(['run', '--once', '--json']),
        sandbox.rotor(['run', '--once', '--json']),
      ]);
      parsed = runs
        .map((r) => (r.code === 0 ? (JSON.parse(r.stdout) as RunOnceJson) : undefined))
        .filter((r): r is RunOnceJson => r !== undefined);
    }, HOOK_TIMEOUT);

    const versionRows = () =>
      sandbox.location.query<VersionRow>(
        'select s.name, v.number, v.stage, v.state from versions v join secrets s on s.id = v.secret_id order by s.name, v.number',
      );

    afterAll(async () => {
      await target?.stop();
      await sandbox?.destroy();
    });

    it('both processes exit 0 and between them promote each secret exactly once', () => {
      for (const run of runs) {
        expect(run.code, describeResult(run)).toBe(0);
        expect(run.signal).toBeNull();
      }
      expect(parsed).toHaveLength(2);
      const outcomes = parsed.flatMap((p) => p.outcomes);
      expect(outcomes.filter((o) => o.result !== 'promoted')).toEqual([]);
      expect(outcomes.map((o) => o.name).sort()).toEqual(names);
      expect(parsed.map((p) => p.failed)).toEqual([0, 0]);
    });

    it(
      'every secret has exactly two versions, exactly one current (version 2) and nothing pending',
      async () => {
        const rows = await versionRows();
        const bySecret = new Map<string, VersionRow[]>();
        for (const row of rows) bySecret.set(row.name, [...(bySecret.get(row.name) ?? []), row]);
        expect([...bySecret.keys()]).toEqual(names);
        const wrong = [...bySecret].filter(([, versions]) => {
          const current = versions
            .filter((v) => v.stage === 'current')
            .map((v) => Number(v.number));
          return (
            versions.length !== 2 ||
            current.join() !== '2' ||
            versions.some((v) => v.stage === 'pending' || v.state !== 'active')
          );
        });
        expect(wrong).toEqual([]);
      },
      TEST_TIMEOUT,
    );

    it(
      'one finished rotate per secret, and the target saw each new value applied and verified once',
      async () => {
        const rotations = await sandbox.location.query<{ state: string; n: number }>(
          "select state, count(*) as n from rotations where kind = 'rotate' group by state",
        );
        expect(rotations.map((r) => ({ ...r, n: Number(r.n) }))).toEqual([
          { state: 'done', n: SECRETS },
        ]);
        for (const step of ['apply', 'verify']) {
          const seen = target.calls.filter((c) => c.step === step);
          expect({ step, secrets: seen.map((c) => `${c.secret}@${c.version}`).sort() }).toEqual({
            step,
            secrets: names.map((n) => `${n}@2`),
          });
        }
      },
      TEST_TIMEOUT,
    );

    it(
      'the audit trail records each rotation step 200 times (200 rotation.promoted) and verifies',
      async () => {
        const [counts, verify] = await Promise.all([
          sandbox.location.query<{ action: string; n: number }>(
            "select action, count(*) as n from audit_events where action like 'rotation.%' group by action order by action",
          ),
          sandbox.rotor(['audit', 'verify']),
        ]);
        expect(Object.fromEntries(counts.map((c) => [c.action, Number(c.n)]))).toEqual({
          'rotation.started': SECRETS,
          'rotation.pending_stored': SECRETS,
          'rotation.applied': SECRETS,
          'rotation.verified': SECRETS,
          'rotation.promoted': SECRETS,
        });
        expect(verify.code, describeResult(verify)).toBe(0);
        expect(verify.stdout).toMatch(/intact: \d+ events/);
      },
      TEST_TIMEOUT,
    );

    // Fails while src has the bug reported with this test: a process that finds a secret due,
    // but loses the race to rotate it, still "retires early" the previous version the other
    // process has just made, cutting its 1h grace to nothing (RotationEngine.runOnce calls
    // #retireEarly before #begin(onlyIfDue) finds the secret no longer due).
    it(
      'no process retires a version 1 whose 1h grace has not ended: it stays previous and accepted',
      async () => {
        const early = (await versionRows()).filter(
          (v) => Number(v.number) === 1 && v.stage !== 'previous',
        );
        const retires = await sandbox.location.query<{ n: number }>(
          "select count(*) as n from rotations where kind = 'retire'",
        );
        const rejected = names.filter((n) => !target.accepts(firstValues.get(n) ?? ''));
        expect({
          versionsNoLongerPrevious: early.map((v) => v.name),
          firstValuesRejectedByTarget: rejected,
          retireRotations: Number(retires[0]?.n),
          retireCallsToTarget: target.calls.filter((c) => c.step === 'retire').length,
        }).toEqual({
          versionsNoLongerPrevious: [],
          firstValuesRejectedByTarget: [],
          retireRotations: 0,
          retireCallsToTarget: 0,
        });
      },
      TEST_TIMEOUT,
    );
  },
);
