/**
 * The rotation protocol as a pure state machine. Promotion and retirement end
 * a rotation (`done`) in the same transaction that moves the stages, so they
 * need no state of their own. Each state names the last
 * step whose effects are committed; the runner asks {@link nextStep} what to
 * do, performs it, and commits the state returned by {@link advance}.
 */
export const ROTATION_KINDS = ['rotate', 'rollback', 'retire'] as const;
/** `rotate` makes a new version; `rollback` brings `previous` back; `retire` ends a grace period. */
export type RotationKind = (typeof ROTATION_KINDS)[number];

export const ROTATION_STATES = [
  'created',
  'pending_stored',
  'applied',
  'verified',
  'rolling_back',
  'rolled_back',
  'done',
] as const;
export type RotationState = (typeof ROTATION_STATES)[number];

export type RotationStep = 'create' | 'apply' | 'verify' | 'promote' | 'retire' | 'rollback';

const TERMINAL: ReadonlySet<RotationState> = new Set(['done', 'rolled_back']);

export function isTerminal(state: RotationState): boolean {
  return TERMINAL.has(state);
}

/** The step that moves a rotation on from `state`, or undefined once it has ended. */
export function nextStep(
  kind: RotationKind,
  state: RotationState,
  dryRun: boolean,
): RotationStep | undefined {
  if (kind === 'retire') return state === 'created' ? 'retire' : undefined;
  switch (state) {
    case 'created':
      return 'create';
    case 'pending_stored':
      return 'apply';
    case 'applied':
      return 'verify';
    // A dry run proves the value works, then discards it the way a failure would.
    case 'verified':
      return dryRun ? 'rollback' : 'promote';
    case 'rolling_back':
      return 'rollback';
    default:
      return undefined;
  }
}

const AFTER_STEP: Readonly<Record<RotationStep, RotationState>> = {
  create: 'pending_stored',
  apply: 'applied',
  verify: 'verified',
  promote: 'done',
  retire: 'done',
  rollback: 'rolled_back',
};

/** The state committed once `step` succeeded in `state`; throws on a step that does not belong there. */
export function advance(
  kind: RotationKind,
  state: RotationState,
  step: RotationStep,
  dryRun: boolean,
): RotationState {
  const expected = nextStep(kind, state, dryRun);
  if (expected !== step) {
    throw new Error(
      `rotation protocol violation: step ${step} in state ${state} (expected ${expected ?? 'none'})`,
    );
  }
  return AFTER_STEP[step];
}

/** Where a failure leads: before promotion everything rolls back; after it nothing is undone. */
export function onFailure(kind: RotationKind, state: RotationState): RotationState | undefined {
  if (kind === 'retire') return undefined;
  return ['created', 'pending_stored', 'applied', 'verified'].includes(state)
    ? 'rolling_back'
    : undefined;
}
