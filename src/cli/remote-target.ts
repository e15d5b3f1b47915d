import { RotorError } from '../core/errors.js';

/** Where the CLI's remote mode sends commands. */
export interface RemoteTarget {
  readonly url: string;
  readonly token: string;
}

const EXAMPLE_ADDR = 'http://127.0.0.1:8200';

/**
 * The server named by ROTOR_ADDR and ROTOR_TOKEN, or undefined when neither is
 * set. One without the other is a usage error: guessing would either send the
 * command to a server without credentials or quietly open a local store the
 * user did not mean.
 */
export function remoteTarget(env: NodeJS.ProcessEnv): RemoteTarget | undefined {
  const addr = env.ROTOR_ADDR || undefined;
  const token = env.ROTOR_TOKEN || undefined;
  if (addr === undefined && token === undefined) return undefined;
  if (addr === undefined || token === undefined) {
    const [set, unset] =
      addr === undefined ? ['ROTOR_TOKEN', 'ROTOR_ADDR'] : ['ROTOR_ADDR', 'ROTOR_TOKEN'];
    throw new RotorError(
      'ERR_USAGE',
      `${set} is set but ${unset} is not: set both to use a Rotor server (remote mode), or neither to open the local store`,
    );
  }
  return { url: parseAddr(addr), token };
}

/** For commands that only work on the local store: refuses when remote mode is configured. */
export function assertLocalMode(command: string, env: NodeJS.ProcessEnv = process.env): void {
  if (env.ROTOR_ADDR || env.ROTOR_TOKEN) {
    throw new RotorError(
      'ERR_USAGE',
      `rotor ${command} works on the local store, not through a server: unset ROTOR_ADDR and ROTOR_TOKEN to run it`,
    );
  }
}

function parseAddr(addr: string): string {
  let url: URL;
  try {
    url = new URL(addr);
  } catch {
    url = new URL('invalid:');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new RotorError(
      'ERR_USAGE',
      `ROTOR_ADDR: expected the server's http:// or https:// URL such as ${EXAMPLE_ADDR} (got ${JSON.stringify(addr.slice(0, 100))})`,
    );
  }
  if (url.username || url.password) {
    throw new RotorError(
      'ERR_USAGE',
      'ROTOR_ADDR: expected no user or password in the URL; the credential is ROTOR_TOKEN',
    );
  }
  return addr;
}
