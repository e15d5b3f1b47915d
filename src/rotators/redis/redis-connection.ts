import { isIP } from 'node:net';
import { Redis } from 'ioredis';
import { isRotorError, RotorError } from '../../core/errors.js';

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

export interface RedisLogin {
  readonly username: string;
  readonly password: string;
}

const CONNECT_TIMEOUT_MS = 3_000;
const COMMAND_TIMEOUT_MS = 5_000;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * Opens one fresh connection, authenticates as `login` (or stays the default user),
 * runs `work` and always disconnects. `who` names the login in errors ("user \"app\"").
 * Failures become RotorErrors naming host:port and the user, never a password.
 */
export async function withRedis<T>(
  endpoint: RedisEndpoint,
  login: RedisLogin | undefined,
  who: string,
  work: (redis: Redis) => Promise<T>,
): Promise<T> {
  // One attempt, no offline queue, no reconnection: a rotation step fails fast and the
  // engine decides about retries, instead of the driver storming an unhealthy target.
  const redis = new Redis({
    host: endpoint.host,
    port: endpoint.port,
    ...(endpoint.tls ? { tls: isIP(endpoint.host) ? {} : { servername: endpoint.host } } : {}),
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    // The ready check (INFO) and CLIENT SETINFO would run before AUTH, as the default user.
    enableReadyCheck: false,
    disableClientInfo: true,
  });
  let networkError: unknown;
  redis.on('error', (error: unknown) => {
    networkError = error;
  });
  try {
    try {
      await redis.connect();
    } catch (error) {
      throw networkError ?? error;
    }
    // AUTH as a command rather than a connection option: its rejection arrives here as
    // a WRONGPASS reply instead of an 'error' event after the connection was reported ready.
    if (login) await redis.call('AUTH', login.username, login.password);
    return await work(redis);
  } catch (error) {
    throw toRotorError(error, networkError, endpoint, who);
  } finally {
    redis.disconnect();
  }
}

/** An ioredis failure as a RotorError; the driver error is not kept as cause (it carries AUTH's arguments). */
function toRotorError(
  error: unknown,
  networkError: unknown,
  endpoint: RedisEndpoint,
  who: string,
): RotorError {
  if (isRotorError(error)) return error;
  const at = `redis at ${endpoint.host}:${endpoint.port}`;
  const reply = replyCode(error);
  if (reply === 'WRONGPASS') {
    return new RotorError(
      'ERR_TARGET_AUTH',
      `${at} refused the password of ${who} (WRONGPASS: wrong password, or the user is disabled)`,
    );
  }
  if (reply === 'NOAUTH') {
    return new RotorError(
      'ERR_TARGET_AUTH',
      `${at} requires authentication for ${who}; name an admin credential in the config's adminSecret`,
    );
  }
  if (reply === 'NOPERM') {
    return new RotorError(
      'ERR_TARGET_REJECTED',
      `${at}: ${who} lacks the permission for ACL GETUSER / ACL SETUSER (NOPERM)`,
    );
  }
  if (reply !== undefined) {
    return new RotorError('ERR_TARGET_REJECTED', `${at} rejected a command of ${who} (${reply})`);
  }
  const code = networkCode(error) ?? networkCode(networkError);
  if (code !== undefined || isClosedOrTimedOut(error)) {
    const reason = code ?? (error instanceof Error ? error.message : 'connection lost');
    return new RotorError('ERR_TARGET_UNREACHABLE', `${at} is unreachable for ${who} (${reason})`);
  }
  return new RotorError(
    'ERR_TARGET_REJECTED',
    `${at} failed for ${who}: ${error instanceof Error ? error.name : 'unknown error'}`,
  );
}

/** The first word of a Redis error reply (WRONGPASS, NOPERM, ERR...), if it is one. */
function replyCode(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return undefined;
  return /^[A-Z]+/.exec(error.message)?.[0] ?? 'ERR';
}

function networkCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code) ? code : undefined;
}

function isClosedOrTimedOut(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.message === 'Connection is closed.' || error.message === 'Command timed out')
  );
}
