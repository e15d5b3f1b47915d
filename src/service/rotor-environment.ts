import { resolve } from 'node:path';

/** Where a Rotor process keeps its data, resolved from the environment. */
export interface RotorEnvironment {
  readonly home: string;
  readonly storeUrl: string;
  /** True when ROTOR_STORE was not set and the store is SQLite inside home. */
  readonly defaultStore: boolean;
  readonly keyFile: string;
  readonly masterKeyEnv: string | undefined;
}

export function resolveEnvironment(env: NodeJS.ProcessEnv, cwd = process.cwd()): RotorEnvironment {
  const home = resolve(cwd, env.ROTOR_HOME || '.rotor');
  const configured = env.ROTOR_STORE || undefined;
  return {
    home,
    storeUrl: configured ?? `sqlite:${resolve(home, 'rotor.db')}`,
    defaultStore: configured === undefined,
    keyFile: resolve(home, 'master.key'),
    masterKeyEnv: env.ROTOR_MASTER_KEY,
  };
}
