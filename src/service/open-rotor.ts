import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { type IssuedToken, issueToken } from '../access/api-token.js';
import { ADMIN_POLICY } from '../access/token-policy.js';
import { RotorError } from '../core/errors.js';
import { createMasterKeyFile, readMasterKey } from '../crypto/master-key-source.js';
import { MasterKeyring, masterKeyCheck } from '../crypto/master-keyring.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import type { RotorEnvironment } from './rotor-environment.js';

export interface OpenRotor {
  readonly store: Store;
  readonly keyring: MasterKeyring;
}

/**
 * Opens an initialised Rotor: the store, and the master key checked against
 * the fingerprint the store recorded, so a wrong key fails here, clearly.
 */
export async function openRotor(env: RotorEnvironment, now?: () => Date): Promise<OpenRotor> {
  if (env.defaultStore && !existsSync(env.home)) {
    throw new RotorError(
      'ERR_NOT_INITIALISED',
      `Rotor is not initialised in ${env.home}; run \`rotor init\` or set ROTOR_HOME`,
    );
  }
  const key = readMasterKey(env.masterKeyEnv, env.keyFile);
  if (!key) {
    throw new RotorError(
      'ERR_MASTER_KEY_MISSING',
      `no master key: set ROTOR_MASTER_KEY (base64 of 32 bytes) or keep the key file ${env.keyFile} that \`rotor init\` wrote`,
    );
  }
  const store = await openStore(env.storeUrl, { create: false, now });
  try {
    const check = masterKeyCheck(key);
    const match = (await store.masterKeyChecks()).find((k) => k.keyCheck === check);
    if (!match) {
      throw new RotorError(
        'ERR_MASTER_KEY_MISMATCH',
        `the master key ${env.masterKeyEnv ? 'in ROTOR_MASTER_KEY' : `in ${env.keyFile}`} is not the one this store was initialised with; use the original key`,
      );
    }
    return { store, keyring: new MasterKeyring([{ version: match.version, key }]) };
  } catch (error) {
    await store.close();
    throw error;
  }
}

export interface InitResult {
  readonly home: string;
  readonly store: string;
  /** Undefined when the key came from ROTOR_MASTER_KEY. */
  readonly keyFile: string | undefined;
  readonly adminToken: IssuedToken;
}

/** Creates the data directory, the store and the master key; refuses to touch an initialised one. */
export async function initRotor(env: RotorEnvironment): Promise<InitResult> {
  const alreadyHere = [
    env.keyFile,
    ...(env.defaultStore ? [env.storeUrl.slice('sqlite:'.length)] : []),
  ].find((p) => existsSync(p));
  if (alreadyHere) {
    throw new RotorError(
      'ERR_ALREADY_INITIALISED',
      `Rotor is already initialised in ${env.home} (${alreadyHere} exists)`,
    );
  }
  const keyFromEnv = readMasterKey(env.masterKeyEnv, env.keyFile);
  mkdirSync(env.home, { recursive: true, mode: 0o700 });
  const store = await openStore(env.storeUrl, { create: true });
  let createdKeyFile: string | undefined;
  try {
    if (await store.isInitialised()) {
      throw new RotorError(
        'ERR_ALREADY_INITIALISED',
        `the store ${store.location} is already initialised`,
      );
    }
    const key = keyFromEnv ?? createMasterKeyFile(env.keyFile);
    if (!keyFromEnv) createdKeyFile = env.keyFile;
    const adminToken = issueToken();
    await store.initialise({
      masterKeyCheck: masterKeyCheck(key),
      adminToken: {
        id: adminToken.id,
        hash: adminToken.hash,
        name: 'admin',
        policy: ADMIN_POLICY,
        expiresAt: null,
      },
      audit: { actor: 'cli', action: 'rotor.init', details: { adminTokenId: adminToken.id } },
    });
    return { home: env.home, store: store.location, keyFile: createdKeyFile, adminToken };
  } catch (error) {
    if (createdKeyFile) rmSync(createdKeyFile, { force: true });
    throw error;
  } finally {
    await store.close();
  }
}
