import type { RefusedLogin } from '../../src/sdk/credential-source.js';
import { mysqlConnection } from '../../src/sdk/mysql-connection.js';
import { pgPool } from '../../src/sdk/pg-pool.js';
import { redisClient } from '../../src/sdk/redis-client.js';
import type { RotorClient } from '../../src/sdk/rotor-client.js';
import type { ScenarioName } from '../zero-downtime/targets.js';

/** What one client worker does in a loop: a fresh login through the SDK and one query. */
export interface SdkWorkload {
  /** One fresh login and one query (`SELECT 1`, `PING`); rejects as the application would see it. */
  connectAndQuery(): Promise<void>;
  /** Whether an error the application saw is the target refusing the credential. */
  isAuthFailure(error: unknown): boolean;
  close(): Promise<void>;
}

const PG_AUTH = new Set(['28P01', '28000']);

/**
 * The scenario's driver, through the SDK's helper: a `pgPool` whose
 * connections serve one query each (every query logs in anew), a fresh
 * `mysqlConnection`, or a fresh `redisClient`.
 */
export function sdkWorkload(
  scenario: ScenarioName,
  client: RotorClient,
  secret: string,
  workers: number,
  onLoginRefused: (login: RefusedLogin) => void,
): SdkWorkload {
  const code = (error: unknown) => (error as { code?: unknown } | undefined)?.code;
  if (scenario.startsWith('postgres')) {
    const pool = pgPool(client, secret, {
      max: workers,
      maxUses: 1,
      connectionTimeoutMillis: 5_000,
      onLoginRefused,
    });
    return {
      async connectAndQuery() {
        await pool.query('SELECT 1');
      },
      isAuthFailure: (error) => PG_AUTH.has(code(error) as string),
      close: () => pool.end(),
    };
  }
  if (scenario === 'mariadb-alternating') {
    return {
      async connectAndQuery() {
        const connection = await mysqlConnection(client, secret, {
          connectTimeout: 5_000,
          onLoginRefused,
        });
        try {
          await connection.query('SELECT 1');
        } finally {
          await connection.end().catch(() => undefined);
        }
      },
      isAuthFailure: (error) => code(error) === 'ER_ACCESS_DENIED_ERROR',
      close: async () => undefined,
    };
  }
  return {
    async connectAndQuery() {
      const redis = await redisClient(client, secret, {
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableOfflineQueue: false,
        enableReadyCheck: false,
        onLoginRefused,
      });
      try {
        await redis.ping();
      } finally {
        redis.disconnect();
      }
    },
    isAuthFailure: (error) => /WRONGPASS/.test((error as Error).message),
    close: async () => undefined,
  };
}
