import { Redis, type RedisOptions } from 'ioredis';
import { credentialSource, type RefusedLogin } from './credential-source.js';
import type { RotorClient } from './rotor-client.js';

export type { RefusedLogin };

export type RotorRedisOptions = Omit<RedisOptions, 'username' | 'password' | 'lazyConnect'> & {
  /** Called each time a login was refused and is retried once with the value read anew. */
  readonly onLoginRefused?: (login: RefusedLogin) => void;
};

/**
 * A connected `ioredis` client logged in with the credential stored in the
 * Rotor secret `name` (`{host, port, username, password}`):
 * - the first login uses the value current at connect time, and a WRONGPASS
 *   makes it read the secret anew and retry once;
 * - when the secret rotates, its reconnections use the new value (a Redis
 *   ACL password change never drops a connection already authenticated);
 * - a reconnection refused with WRONGPASS reads the secret anew before the next attempt.
 * `host` and `port` in `options` win over the secret's.
 *
 * @example
 * ```ts
 * import { redisClient } from 'rotor/client/redis';
 * const redis = await redisClient(rotor, 'prod/cache/app');
 * ```
 */
export async function redisClient(
  client: RotorClient,
  name: string,
  options: RotorRedisOptions = {},
): Promise<Redis> {
  const { onLoginRefused, ...redisOptions } = options;
  const source = credentialSource(client, name);
  let { version, credential } = await source.current();
  const redis = new Redis({
    ...redisOptions,
    host: redisOptions.host ?? credential.host,
    port: redisOptions.port ?? credential.port,
    username: credential.username,
    password: credential.password,
    lazyConnect: true,
  });
  const useLatest = () => {
    ({ version, credential } = source.latest());
    redis.options.username = credential.username;
    redis.options.password = credential.password;
  };
  let refusal: Promise<void> | undefined;
  let refusedWith: Error | undefined;
  redis.on('error', (error: Error) => {
    if (!/^WRONGPASS/.test(error.message)) return;
    refusedWith = error;
    onLoginRefused?.({ name, version, error });
    refusal = source.afterAuthFailure(version).then(useLatest, () => undefined);
  });
  const stopWatching = source.onChange(useLatest);
  try {
    await redis.connect().catch(async (error: unknown) => {
      if (refusal === undefined) throw error;
      redis.disconnect();
      await refusal;
      refusedWith = undefined;
      await redis.connect();
    });
  } catch (error) {
    stopWatching();
    redis.disconnect();
    // ioredis rejects with "Connection is closed."; the refusal says why.
    throw refusedWith ?? error;
  }
  redis.once('end', stopWatching);
  return redis;
}
