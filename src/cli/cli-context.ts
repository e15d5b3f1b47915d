import type { MasterKeyring } from '../crypto/master-keyring.js';
import { type Alerter, createAlerter } from '../engine/alerter.js';
import { newLeaseOwner } from '../engine/lease-owner.js';
import { createLogger } from '../engine/logger.js';
import { RotationEngine } from '../engine/rotation-engine.js';
import { openRotor } from '../service/open-rotor.js';
import { resolveEnvironment } from '../service/rotor-environment.js';
import { SecretService } from '../service/secret-service.js';
import type { Store } from '../store/store.js';

/** The actor recorded in the audit trail for commands run from a shell. */
export const CLI_ACTOR = 'cli';

export interface CliRotor {
  readonly store: Store;
  readonly keyring: MasterKeyring;
  readonly alerter: Alerter;
  readonly secrets: SecretService;
  readonly engine: RotationEngine;
}

/** Opens the local Rotor for one command and always closes it. */
export async function withRotor<T>(work: (rotor: CliRotor) => Promise<T>): Promise<T> {
  const { store, keyring } = await openRotor(resolveEnvironment(process.env));
  try {
    const alerter = createAlerter(createLogger());
    const engine = new RotationEngine({
      store,
      keyring,
      alerter,
      owner: newLeaseOwner(),
      leaseMs: leaseMsFromEnv(),
    });
    return await work({
      store,
      keyring,
      alerter,
      secrets: new SecretService(store, keyring),
      engine,
    });
  } finally {
    await store.close();
  }
}

/** `ROTOR_LEASE_MS` shortens leases, for tests that resume after a simulated crash on another host. */
export function leaseMsFromEnv(): number | undefined {
  const value = Number(process.env.ROTOR_LEASE_MS);
  return Number.isInteger(value) && value >= 100 ? value : undefined;
}
