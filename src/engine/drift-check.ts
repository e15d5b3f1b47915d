import type { Actor } from '../audit/audit-event.js';
import { isRotorError } from '../core/errors.js';
import type { SecretValue } from '../core/secret-value.js';
import { openValue } from '../crypto/envelope.js';
import type { MasterKeyring } from '../crypto/master-keyring.js';
import { rotatorFor } from '../rotators/rotator-registry.js';
import type { Store } from '../store/store.js';
import type { Alerter } from './alerter.js';
import { sanitizedMessage } from './error-message.js';

export type DriftStatus = 'accepted' | 'no-target' | 'rejected' | 'unreachable' | 'error';

export interface DriftResult {
  readonly name: string;
  readonly version: number;
  readonly status: DriftStatus;
  readonly message: string | null;
}

/** Statuses that mean the current value may not work for consumers. */
export const DRIFT_FAILURES: ReadonlySet<DriftStatus> = new Set([
  'rejected',
  'unreachable',
  'error',
]);

/**
 * Uses each secret's `current` value on its target for real, so a password
 * changed behind Rotor's back is found before the next rotation fails on it.
 */
export async function checkDrift(
  store: Store,
  keyring: MasterKeyring,
  alerter: Alerter,
  names: readonly string[],
  actor: Actor,
): Promise<DriftResult[]> {
  const targets = names.length > 0 ? names : (await store.listSecrets()).map((s) => s.name);
  const results: DriftResult[] = [];
  for (const name of targets) results.push(await checkSecret(store, keyring, alerter, name, actor));
  return results;
}

/** Checks one secret's current value on its target, and alerts when it does not work. */
export async function checkSecret(
  store: Store,
  keyring: MasterKeyring,
  alerter: Alerter,
  name: string,
  actor: Actor,
): Promise<DriftResult> {
  const secret = await store.getSecret(name);
  if (!secret)
    return { name, version: 0, status: 'error', message: `secret ${name} does not exist` };
  const { version, sealed } = await store.readVersion(
    name,
    { stage: 'current' },
    { actor, action: 'secret.read', details: { purpose: 'drift-check' } },
  );
  const value = openValue(sealed, { secret: name, version: version.number }, keyring);
  const result = await checkOne(
    store,
    keyring,
    name,
    secret.type,
    secret.config,
    version.number,
    value,
    actor,
  );
  if (DRIFT_FAILURES.has(result.status)) {
    await alerter.alert({
      secret: name,
      rotation: 0,
      step: 'check',
      message: `current version ${version.number} is ${result.status} by its target: ${result.message}`,
      needsAttention: false,
    });
  }
  return result;
}

async function checkOne(
  store: Store,
  keyring: MasterKeyring,
  name: string,
  type: string,
  config: Readonly<Record<string, unknown>>,
  version: number,
  value: SecretValue,
  actor: Actor,
): Promise<DriftResult> {
  const ctx = {
    now: () => new Date(),
    readSecret: async (other: string) => {
      const read = await store.readVersion(
        other,
        { stage: 'current' },
        { actor, action: 'secret.read' },
      );
      return openValue(read.sealed, { secret: other, version: read.version.number }, keyring);
    },
  };
  try {
    const status = await rotatorFor(type).check({ name, config }, { version, value }, ctx);
    return { name, version, status, message: null };
  } catch (error) {
    const status: DriftStatus = !isRotorError(error)
      ? 'error'
      : error.code === 'ERR_TARGET_AUTH' || error.code === 'ERR_TARGET_REJECTED'
        ? 'rejected'
        : error.code === 'ERR_TARGET_UNREACHABLE'
          ? 'unreachable'
          : 'error';
    return { name, version, status, message: sanitizedMessage(error, [value]) };
  }
}
