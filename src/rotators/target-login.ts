import { isRotorError } from '../core/errors.js';

/**
 * True when a login with the current value succeeds, false when the target
 * refuses it; an unreachable target rethrows (nothing can be concluded).
 */
export async function acceptsCurrent(login: () => Promise<unknown>): Promise<boolean> {
  try {
    await login();
    return true;
  } catch (error) {
    if (isRotorError(error) && error.code === 'ERR_TARGET_AUTH') return false;
    throw error;
  }
}
