import type { RotationStep } from '../core/rotation-state.js';

/**
 * Crash testing: with `ROTOR_FAILPOINT=after:<step>` the process kills itself
 * with SIGKILL right after committing that step, exactly as a power cut or an
 * OOM kill would. Inert when the variable is unset.
 */
export function failpointAfter(step: RotationStep): void {
  if (process.env.ROTOR_FAILPOINT === `after:${step}`) process.kill(process.pid, 'SIGKILL');
}
