import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreDialect } from '../../src/store/store.js';
import {
  CLI_TIMEOUT_MS,
  createSandbox,
  describeResult,
  type HistoryEntry,
  type OutcomeJson,
  type RotorSandbox,
  type RunOnceJson,
  sleep,
  type TimedResult,
  withStage,
} from '../support/rotor-sandbox.js';
import type { CliResult } from '../support/run-cli.js';
import { STORE_DIALECTS } from '../support/test-stores.js';
import { WebhookTarget } from '../support/webhook-target.js';

/**
 * The rotation protocol under SIGKILL: the built CLI kills itself right after
 * committing each step (ROTOR_FAILPOINT=after:<step>), and the next
 * `rotor run --once` must leave the secret with exactly one current value that
 * both the store and the target (a real HTTP service) hold, and an intact
 * audit chain. The four rotate steps share one store (one secret each, one
 * resuming run); retire, rollback and verify-failure each get their own store,
 * home and target, so a `run --once` never picks up another scenario's work.
 */

const NAME = 'crash/api';
// Every CLI call is a Node process (about 0.7 s of CPU); the machine may be shared.
const TEST_TIMEOUT = 180_000;
const HOOK_TIMEOUT = 240_000;
const ROTATE_STEPS = ['create', 'apply', 'verify', 'promote'] as const;

interface Scenario {
  readonly sandbox: RotorSandbox;
  readonly target: WebhookTarget;
  /** The value of version 1, which the target was seeded with. */
  readonly first: string;
  rotor: RotorSandbox['rotor'];
}

/** A store with one api-key secret whose webhook is a live target seeded with version 1. */
async function withScenario(
  dialect: StoreDialect,
  label: string,
  createFlags: readonly string[],
  body: (scenario: Scenario) => Promise<void>,
): Promise<void> {
  const target = new WebhookTarget();
  await target.start();
  const sandbox = await createSandbox(dialect, label, { ROTOR_ALERT_WEBHOOK: target.alertUrl });
  try {
    const config = JSON.stringify({ webhook: { url: target.url } });
    await sandbox.json([
      'secret',
      'create',
      NAME,
      '--type',
      'api-key',
      '--config',
      config,
      ...createFlags,
      '--json',
    ]);
    const first = await sandbox.value(NAME);
    target.accepted.add(first);
    await body({ sandbox, target, first, rotor: sandbox.rotor });
  } finally {
    await target.stop();
    await sandbox.destroy();
  }
}

/** Killed by its own failpoint: SIGKILL, and well before runCli's timeout would have killed it. */
function expectKilled(result: TimedResult): void {
  expect(result.signal, describeResult(result)).toBe('SIGKILL');
  expect(result.code).toBeNull();
  expect(result.ms).toBeLessThan(CLI_TIMEOUT_MS - 10_000);
}

function expectExit(result: CliResult, code: number): void {
  expect(result.code, describeResult(result)).toBe(code);
  expect(result.signal).toBeNull();
}

/** Exactly one current, nothing pending: the invariants every resumed scenario must end in. */
function expectSettled(history: readonly HistoryEntry[], current: number): void {
  expect(withStage(history, 'current')).toEqual([current]);
  expect(withStage(history, 'pending')).toEqual([]);
  expect(history.every((v) => v.stages.length <= 1)).toBe(true);
}

async function expectAuditIntact(scenario: Scenario): Promise<void> {
  const verify = await scenario.rotor(['audit', 'verify']);
  expectExit(verify, 0);
  expect(verify.stdout).toMatch(/intact/);
}

/** The actions recorded about one secret, oldest first (read from the store directly). */
async function auditActions(sandbox: RotorSandbox, name: string): Promise<string[]> {
  const rows = await sandbox.location.query<{ action: string }>(
    'select action from audit_events where secret = ? order by seq',
    [name],
  );
  return rows.map((r) => r.action);
}

const count = (items: readonly string[], item: string) => items.filter((i) => i === item).length;

/** The value of `version` as the target last saw it at `step` (values of discarded versions are gone from the store). */
function valueSentAt(target: WebhookTarget, step: string, version: number): string {
  const call = target.calls.findLast((c) => c.step === step && c.version === version);
  if (!call) throw new Error(`the target never saw ${step} of version ${version}`);
  return call.value;
}

describe.concurrent.each<StoreDialect>(STORE_DIALECTS)('crash matrix (%s store)', (dialect) => {
  /**
   * One store, one secret per step: the four rotations are killed in parallel
   * (each right after its own step), then a single `run --once` resumes them all.
   */
  // Sequential: the audit check must not overlap the reads (each `secret get` appends an event).
  describe.sequential('rotate killed right after committing each step, then one run --once', () => {
    let sandbox: RotorSandbox;
    let target: WebhookTarget;
    const first = new Map<string, string>();
    const crashed = new Map<string, TimedResult>();
    /** Whether the target had seen apply for the secret when its rotate was killed. */
    const appliedAtCrash = new Map<string, boolean>();
    const atCrash = new Map<string, Array<{ number: number; stage: string | null }>>();
    let resumed: TimedResult;
    const nameOf = (step: string) => `crash/${step}`;

    beforeAll(async () => {
      target = new WebhookTarget();
      await target.start();
      sandbox = await createSandbox(dialect, 'cm_steps', { ROTOR_ALERT_WEBHOOK: target.alertUrl });
      const config = JSON.stringify({ webhook: { url: target.url } });
      await Promise.all(
        ROTATE_STEPS.map(async (step) => {
          const name = nameOf(step);
          await sandbox.json([
            'secret',
            'create',
            name,
            '--type',
            'api-key',
            '--config',
            config,
            '--json',
          ]);
          const value = await sandbox.value(name);
          first.set(name, value);
          target.accepted.add(value);
        }),
      );
      await Promise.all(
        ROTATE_STEPS.map(async (step) => {
          const result = await sandbox.rotor(['rotate', nameOf(step), '--json'], {
            env: { ROTOR_FAILPOINT: `after:${step}` },
          });
          crashed.set(step, result);
          appliedAtCrash.set(
            step,
            target.calls.some((c) => c.secret === nameOf(step) && c.step === 'apply'),
          );
        }),
      );
      for (const step of ROTATE_STEPS) {
        atCrash.set(
          step,
          await sandbox.location.query<{ number: number; stage: string | null }>(
            'select v.number, v.stage from versions v join secrets s on s.id = v.secret_id where s.name = ? order by v.number',
            [nameOf(step)],
          ),
        );
      }
      resumed = await sandbox.rotor(['run', '--once', '--json']);
    }, HOOK_TIMEOUT);

    afterAll(async () => {
      await target?.stop();
      await sandbox?.destroy();
    });

    it('every rotate was killed by SIGKILL, leaving the state of its step committed', () => {
      for (const step of ROTATE_STEPS) {
        expectKilled(crashed.get(step) as TimedResult);
        const versions = (atCrash.get(step) ?? []).map((v) => [Number(v.number), v.stage]);
        expect({ step, versions }).toEqual({
          step,
          versions:
            step === 'promote'
              ? [
                  [1, 'previous'],
                  [2, 'current'],
                ]
              : [
                  [1, 'current'],
                  [2, 'pending'],
                ],
        });
        // The target learnt the pending value only from apply on.
        const applied = appliedAtCrash.get(step);
        expect({ step, applied }).toEqual({ step, applied: step !== 'create' });
      }
    });

    it('one run --once exits 0 and promotes the three unfinished rotations', () => {
      expectExit(resumed, 0);
      const run = JSON.parse(resumed.stdout) as RunOnceJson;
      expect(run.failed).toBe(0);
      // Promotion was the last step of the fourth: nothing is left of it to resume.
      expect(run.outcomes).toHaveLength(3);
      expect(run.outcomes).toEqual(
        expect.arrayContaining(
          ['create', 'apply', 'verify'].map((step) =>
            expect.objectContaining<Partial<OutcomeJson>>({
              name: nameOf(step),
              kind: 'rotate',
              result: 'promoted',
              state: 'done',
              fromVersion: 1,
              toVersion: 2,
            }),
          ),
        ),
      );
    });

    it.each(ROTATE_STEPS)(
      'after %s: one current that the target accepts, nothing pending, the stored value reused',
      async (step) => {
        const name = nameOf(step);
        const [history, current] = await Promise.all([sandbox.history(name), sandbox.value(name)]);
        expectSettled(history, 2);
        // No second version was generated: the resume reused the one stored before the crash.
        expect(history.map((v) => v.version)).toEqual([2, 1]);
        expect(withStage(history, 'previous')).toEqual([1]);
        expect(current).not.toBe(first.get(name));
        expect(target.accepts(current)).toBe(true);
        // Still in its grace period (1h), so the old value keeps working.
        expect(target.accepts(first.get(name) as string)).toBe(true);
        // Every value the target was given for version 2 is the one that became current.
        const sent = target.calls.filter((c) => c.secret === name && c.version === 2);
        expect(sent.map((c) => c.step)).toEqual(expect.arrayContaining(['apply', 'verify']));
        expect(sent.every((c) => c.value === current)).toBe(true);
      },
      TEST_TIMEOUT,
    );

    it(
      'the audit chain is intact and shows each step of each rotation exactly once',
      async () => {
        const verify = await sandbox.rotor(['audit', 'verify']);
        expectExit(verify, 0);
        expect(verify.stdout).toMatch(/intact/);
        for (const step of ROTATE_STEPS) {
          const actions = await auditActions(sandbox, nameOf(step));
          for (const action of [
            'rotation.started',
            'rotation.pending_stored',
            'rotation.applied',
            'rotation.verified',
            'rotation.promoted',
          ]) {
            expect({ step, action, times: count(actions, action) }).toEqual({
              step,
              action,
              times: 1,
            });
          }
        }
      },
      TEST_TIMEOUT,
    );
  });

  it(
    'run --once killed right after committing retire: the next run finishes, the old value is revoked',
    async () => {
      await withScenario(dialect, 'cm_retire', ['--grace', '1s'], async (scenario) => {
        const { target, first } = scenario;
        const rotated = await scenario.sandbox.json<OutcomeJson>(['rotate', NAME, '--json']);
        expect(rotated).toMatchObject({ result: 'promoted', fromVersion: 1, toVersion: 2 });
        const current = await scenario.sandbox.value(NAME);
        expect(await scenario.sandbox.value(NAME, 'previous')).toBe(first);
        expect(target.accepts(first) && target.accepts(current)).toBe(true);

        await sleep(1_300); // the 1s grace of version 1 is over
        const crashed = await scenario.rotor(['run', '--once', '--json'], {
          env: { ROTOR_FAILPOINT: 'after:retire' },
        });
        expectKilled(crashed);

        const resumed = await scenario.rotor(['run', '--once', '--json']);
        expectExit(resumed, 0);
        expect((JSON.parse(resumed.stdout) as RunOnceJson).failed).toBe(0);

        const [history, previousRead, afterCurrent] = await Promise.all([
          scenario.sandbox.history(NAME),
          scenario.rotor(['secret', 'get', NAME, '--stage', 'previous']),
          scenario.sandbox.value(NAME),
        ]);
        // After the reads, not beside them: a read appends to the trail while verify walks it.
        await expectAuditIntact(scenario);
        expectSettled(history, 2);
        expect(withStage(history, 'previous')).toEqual([]);
        expect(history.find((v) => v.version === 1)?.stages).toEqual([]);
        expect(previousRead.code, describeResult(previousRead)).toBe(1);
        expect(afterCurrent).toBe(current);
        expect(target.accepts(first)).toBe(false);
        expect(target.accepts(current)).toBe(true);
        expect(target.calls.filter((c) => c.step === 'retire').map((c) => c.version)).toEqual([1]);
        expect(count(await auditActions(scenario.sandbox, NAME), 'version.retired')).toBe(1);
      });
    },
    TEST_TIMEOUT,
  );

  it(
    'rotate killed right after committing rollback of a failed verify: the failed value stays revoked',
    async () => {
      await withScenario(dialect, 'cm_rollback', [], async (scenario) => {
        const { target, first } = scenario;
        target.failing.add('verify');
        const crashed = await scenario.rotor(['rotate', NAME, '--json'], {
          env: { ROTOR_FAILPOINT: 'after:rollback' },
        });
        expectKilled(crashed);
        const failed = valueSentAt(target, 'apply', 2);
        expect(failed).not.toBe(first);

        // The target is still broken; the next attempt is backed off, so the run has nothing to do.
        const resumed = await scenario.rotor(['run', '--once', '--json']);
        expectExit(resumed, 0);

        const [history, current] = await Promise.all([
          scenario.sandbox.history(NAME),
          scenario.sandbox.value(NAME),
        ]);
        // After the reads, not beside them: a read appends to the trail while verify walks it.
        await expectAuditIntact(scenario);
        expectSettled(history, 1);
        expect(history.find((v) => v.version === 2)).toMatchObject({
          stages: [],
          state: 'discarded',
        });
        expect(current).toBe(first);
        expect(target.accepts(failed)).toBe(false);
        expect(target.accepts(current)).toBe(true);
        expect(target.alerts).toEqual([expect.objectContaining({ secret: NAME })]);
        const actions = await auditActions(scenario.sandbox, NAME);
        expect(count(actions, 'rotation.rolled_back')).toBe(1);
        expect(count(actions, 'rotation.promoted')).toBe(0);
        // Neither the alert nor the logs carry a value.
        expect(JSON.stringify(target.alerts)).not.toContain(failed);
        expect(crashed.stderr + resumed.stderr).not.toContain(failed);
      });
    },
    TEST_TIMEOUT,
  );

  it(
    'rotate killed right after apply, resumed while verify fails: rolled back, run exits 1',
    async () => {
      await withScenario(dialect, 'cm_apply_fail', [], async (scenario) => {
        const { target, first } = scenario;
        const crashed = await scenario.rotor(['rotate', NAME, '--json'], {
          env: { ROTOR_FAILPOINT: 'after:apply' },
        });
        expectKilled(crashed);
        const pending = await scenario.sandbox.value(NAME, 'pending');
        expect(target.accepts(pending)).toBe(true);

        target.failing.add('verify');
        const resumed = await scenario.rotor(['run', '--once', '--json']);
        expectExit(resumed, 1);
        expect(resumed.stderr).toMatch(new RegExp(NAME));
        const run = JSON.parse(resumed.stdout) as RunOnceJson;
        expect(run.failed).toBe(1);
        expect(run.outcomes).toEqual([
          expect.objectContaining<Partial<OutcomeJson>>({
            name: NAME,
            kind: 'rotate',
            result: 'rolled_back',
            fromVersion: 1,
            toVersion: 2,
          }),
        ]);
        expect(run.outcomes[0]?.error).toMatch(/verify/);

        const [history, current] = await Promise.all([
          scenario.sandbox.history(NAME),
          scenario.sandbox.value(NAME),
        ]);
        // After the reads, not beside them: a read appends to the trail while verify walks it.
        await expectAuditIntact(scenario);
        expectSettled(history, 1);
        expect(history.find((v) => v.version === 2)).toMatchObject({
          stages: [],
          state: 'discarded',
        });
        expect(current).toBe(first);
        expect(target.accepts(current)).toBe(true);
        expect(target.accepts(pending)).toBe(false);
        expect(target.alerts).toEqual([expect.objectContaining({ secret: NAME })]);
        expect(resumed.stdout + resumed.stderr).not.toContain(pending);
      });
    },
    TEST_TIMEOUT,
  );
});
