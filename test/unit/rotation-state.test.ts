import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  advance,
  isTerminal,
  nextStep,
  onFailure,
  ROTATION_KINDS,
  ROTATION_STATES,
  type RotationKind,
  type RotationState,
  type RotationStep,
} from '../../src/core/rotation-state.js';

const STEPS: readonly RotationStep[] = [
  'create',
  'apply',
  'verify',
  'promote',
  'retire',
  'rollback',
];
const TERMINAL_STATES: readonly RotationState[] = ['done', 'rolled_back'];
const BEFORE_PROMOTION: readonly RotationState[] = [
  'created',
  'pending_stored',
  'applied',
  'verified',
];

/**
 * The protocol written out by hand from DESIGN.md ("The rotation protocol"),
 * independently of the implementation: the one step allowed in each state and
 * the state committed after it. States missing from a row allow no step.
 */
type Transitions = Partial<Record<RotationState, readonly [RotationStep, RotationState]>>;

function expectedTransitions(kind: RotationKind, dryRun: boolean): Transitions {
  if (kind === 'retire') return { created: ['retire', 'done'] };
  return {
    created: ['create', 'pending_stored'],
    pending_stored: ['apply', 'applied'],
    applied: ['verify', 'verified'],
    // A dry run proves the value works, then discards it instead of promoting it.
    verified: dryRun ? ['rollback', 'rolled_back'] : ['promote', 'done'],
    rolling_back: ['rollback', 'rolled_back'],
  };
}

const CASES = ROTATION_KINDS.flatMap((kind) =>
  [false, true].flatMap((dryRun) => ROTATION_STATES.map((state) => ({ kind, dryRun, state }))),
);

describe('rotation state machine: exhaustive table', () => {
  it('knows the kinds and states of the protocol', () => {
    expect([...ROTATION_KINDS]).toEqual(['rotate', 'rollback', 'retire']);
    expect(new Set(ROTATION_STATES)).toEqual(
      new Set([
        'created',
        'pending_stored',
        'applied',
        'verified',
        'rolling_back',
        'rolled_back',
        'done',
      ]),
    );
  });

  it.each(CASES)('nextStep($kind, $state, dryRun=$dryRun)', ({ kind, dryRun, state }) => {
    expect(nextStep(kind, state, dryRun)).toBe(expectedTransitions(kind, dryRun)[state]?.[0]);
  });

  it.each(CASES)(
    'advance($kind, $state, *, dryRun=$dryRun) accepts exactly the expected step',
    ({ kind, dryRun, state }) => {
      const expected = expectedTransitions(kind, dryRun)[state];
      for (const step of STEPS) {
        if (expected && step === expected[0]) {
          expect(advance(kind, state, step, dryRun)).toBe(expected[1]);
        } else {
          expect(() => advance(kind, state, step, dryRun)).toThrow(
            new RegExp(`rotation protocol violation: step ${step} in state ${state}`),
          );
        }
      }
    },
  );

  it('counts every accepted transition exactly once', () => {
    let accepted = 0;
    for (const { kind, dryRun, state } of CASES) {
      for (const step of STEPS) {
        try {
          advance(kind, state, step, dryRun);
          accepted++;
        } catch {
          // a step that does not belong to the state
        }
      }
    }
    // rotate and rollback: 5 states x 2 dry-run flags each; retire: 1 state x 2 flags.
    expect(accepted).toBe(2 * 5 * 2 + 1 * 2);
  });

  it.each(ROTATION_KINDS.flatMap((kind) => ROTATION_STATES.map((state) => ({ kind, state }))))(
    'onFailure($kind, $state)',
    ({ kind, state }) => {
      const expected =
        kind !== 'retire' && BEFORE_PROMOTION.includes(state) ? 'rolling_back' : undefined;
      expect(onFailure(kind, state)).toBe(expected);
    },
  );

  it('has exactly done and rolled_back as terminal states', () => {
    expect(ROTATION_STATES.filter(isTerminal)).toEqual(
      ROTATION_STATES.filter((s) => TERMINAL_STATES.includes(s)),
    );
  });

  it.each(CASES.filter(({ state }) => TERMINAL_STATES.includes(state)))(
    'terminal $state has no next step and accepts no step ($kind, dryRun=$dryRun)',
    ({ kind, dryRun, state }) => {
      expect(nextStep(kind, state, dryRun)).toBeUndefined();
      expect(onFailure(kind, state)).toBeUndefined();
      for (const step of STEPS) expect(() => advance(kind, state, step, dryRun)).toThrow();
    },
  );

  it.each([false, true])('retire kind only ever has the retire step (dryRun=%s)', (dryRun) => {
    for (const state of ROTATION_STATES) {
      const step = nextStep('retire', state, dryRun);
      expect(step === undefined || step === 'retire').toBe(true);
      for (const other of STEPS.filter((s) => s !== 'retire')) {
        expect(() => advance('retire', state, other, dryRun)).toThrow();
      }
    }
    expect(advance('retire', 'created', 'retire', dryRun)).toBe('done');
  });

  it('no other kind ever has the retire step', () => {
    for (const { kind, dryRun, state } of CASES.filter((c) => c.kind !== 'retire')) {
      expect(nextStep(kind, state, dryRun)).not.toBe('retire');
    }
  });
});

/** Every state a kind can reach from `created` through steps and failures. */
function reachableStates(kind: RotationKind, dryRun: boolean): Set<RotationState> {
  const seen = new Set<RotationState>(['created']);
  const queue: RotationState[] = ['created'];
  for (let state = queue.shift(); state !== undefined; state = queue.shift()) {
    const step = nextStep(kind, state, dryRun);
    const successors = [
      step === undefined ? undefined : advance(kind, state, step, dryRun),
      onFailure(kind, state),
    ];
    for (const next of successors) {
      if (next !== undefined && !seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen;
}

describe('rotation state machine: reachability', () => {
  it.each(ROTATION_KINDS.flatMap((kind) => [false, true].map((dryRun) => ({ kind, dryRun }))))(
    'every state $kind reaches (dryRun=$dryRun) has a next step unless it is terminal',
    ({ kind, dryRun }) => {
      for (const state of reachableStates(kind, dryRun)) {
        expect({ state, hasNext: nextStep(kind, state, dryRun) !== undefined }).toEqual({
          state,
          hasNext: !isTerminal(state),
        });
      }
    },
  );

  it('the happy paths', () => {
    const run = (kind: RotationKind, dryRun: boolean) => {
      const steps: RotationStep[] = [];
      let state: RotationState = 'created';
      for (let step = nextStep(kind, state, dryRun); step; step = nextStep(kind, state, dryRun)) {
        steps.push(step);
        state = advance(kind, state, step, dryRun);
      }
      return { steps, state };
    };
    expect(run('rotate', false)).toEqual({
      steps: ['create', 'apply', 'verify', 'promote'],
      state: 'done',
    });
    expect(run('rotate', true)).toEqual({
      steps: ['create', 'apply', 'verify', 'rollback'],
      state: 'rolled_back',
    });
    expect(run('rollback', false)).toEqual({
      steps: ['create', 'apply', 'verify', 'promote'],
      state: 'done',
    });
    expect(run('retire', false)).toEqual({ steps: ['retire'], state: 'done' });
    expect(run('retire', true)).toEqual({ steps: ['retire'], state: 'done' });
  });
});

interface Trace {
  readonly states: RotationState[];
  readonly steps: RotationStep[];
  readonly final: RotationState;
  /** How many steps had succeeded when a failure sent the rotation to rolling_back. */
  readonly stepsBeforeFailure: number | undefined;
}

/** Drives a rotation from `created`, injecting a failure wherever `failAt` says so. */
function drive(kind: RotationKind, dryRun: boolean, failAt: readonly boolean[]): Trace {
  const states: RotationState[] = ['created'];
  const steps: RotationStep[] = [];
  let state: RotationState = 'created';
  let stepsBeforeFailure: number | undefined;
  // Longest run: created -> pending_stored -> applied -> verified -> rolling_back -> rolled_back.
  // The loop bound is far above it, so a cycle would show as a non-terminal final state.
  for (let i = 0; i < 20 && !isTerminal(state); i++) {
    const failed: RotationState | undefined = failAt[i] ? onFailure(kind, state) : undefined;
    if (failed !== undefined) {
      stepsBeforeFailure ??= steps.length;
      state = failed;
    } else {
      const step = nextStep(kind, state, dryRun);
      if (step === undefined) break;
      steps.push(step);
      state = advance(kind, state, step, dryRun);
    }
    states.push(state);
  }
  return { states, steps, final: state, stepsBeforeFailure };
}

const runArb = fc.record({
  kind: fc.constantFrom(...ROTATION_KINDS),
  dryRun: fc.boolean(),
  failAt: fc.array(fc.boolean(), { maxLength: 20 }),
});

describe('rotation state machine: properties', () => {
  it('always terminates in a terminal state within five transitions', () => {
    fc.assert(
      fc.property(runArb, ({ kind, dryRun, failAt }) => {
        const trace = drive(kind, dryRun, failAt);
        expect(isTerminal(trace.final)).toBe(true);
        expect(trace.states.length - 1).toBeLessThanOrEqual(5);
        expect(nextStep(kind, trace.final, dryRun)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('a dry run never reaches a promote step', () => {
    fc.assert(
      fc.property(runArb, ({ kind, failAt }) => {
        const trace = drive(kind, true, failAt);
        expect(trace.steps).not.toContain('promote');
        if (kind !== 'retire') expect(trace.final).toBe('rolled_back');
      }),
      { numRuns: 500 },
    );
  });

  it('a rotation that went through rolling_back is never promoted and ends rolled_back', () => {
    fc.assert(
      fc.property(runArb, ({ kind, dryRun, failAt }) => {
        const trace = drive(kind, dryRun, failAt);
        if (!trace.states.includes('rolling_back')) return;
        expect(trace.stepsBeforeFailure).toBeDefined();
        expect(trace.steps.slice(trace.stepsBeforeFailure)).toEqual(['rollback']);
        expect(trace.steps).not.toContain('promote');
        expect(trace.final).toBe('rolled_back');
      }),
      { numRuns: 500 },
    );
  });

  it('no state after rolling_back can be promoted, whatever is attempted', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ROTATION_KINDS),
        fc.boolean(),
        fc.array(fc.constantFrom(...STEPS), { maxLength: 10 }),
        (kind, dryRun, attempts) => {
          let state: RotationState = 'rolling_back';
          for (const step of attempts) {
            try {
              state = advance(kind, state, step, dryRun);
            } catch {
              continue;
            }
            expect(step).not.toBe('promote');
          }
          expect(['rolling_back', 'rolled_back']).toContain(state);
        },
      ),
    );
  });

  it('a failure after promotion undoes nothing', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ROTATION_KINDS),
        fc.constantFrom(...ROTATION_STATES.filter((s) => !BEFORE_PROMOTION.includes(s))),
        (kind, state) => {
          expect(onFailure(kind, state)).toBeUndefined();
        },
      ),
    );
  });

  it('a retire run only ever takes the retire step', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.boolean(), { maxLength: 20 }), (dryRun, failAt) => {
        const trace = drive('retire', dryRun, failAt);
        expect(trace.steps).toEqual(['retire']);
        expect(trace.final).toBe('done');
      }),
    );
  });
});
