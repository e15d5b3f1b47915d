import { openRotor } from '../service/open-rotor.js';
import { resolveEnvironment } from '../service/rotor-environment.js';
import { SecretService } from '../service/secret-service.js';

/** The actor recorded in the audit trail for commands run from a shell. */
export const CLI_ACTOR = 'cli';

/** Opens the local Rotor for one command and always closes it. */
export async function withSecrets<T>(work: (secrets: SecretService) => Promise<T>): Promise<T> {
  const { store, keyring } = await openRotor(resolveEnvironment(process.env));
  try {
    return await work(new SecretService(store, keyring));
  } finally {
    await store.close();
  }
}
