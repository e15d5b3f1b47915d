import { RotorError } from '../core/errors.js';
import { generatedRotator } from './generated/generated-rotator.js';
import { mysqlRotator } from './mysql/mysql-rotator.js';
import { postgresRotator } from './postgres/postgres-rotator.js';
import { redisRotator } from './redis/redis-rotator.js';
import type { Rotator } from './rotator.js';

// One Record over every type: a type without a rotator fails to compile.
const ROTATORS = {
  'api-key': generatedRotator('api-key'),
  password: generatedRotator('password'),
  'jwt-secret': generatedRotator('jwt-secret'),
  random: generatedRotator('random'),
  postgres: postgresRotator,
  mysql: mysqlRotator,
  redis: redisRotator,
} as const satisfies Record<string, Rotator>;

export type SecretType = keyof typeof ROTATORS;
export const SECRET_TYPES = Object.keys(ROTATORS) as readonly SecretType[];

export function assertSecretType(type: string): asserts type is SecretType {
  if (!Object.hasOwn(ROTATORS, type)) {
    throw new RotorError(
      'ERR_UNKNOWN_TYPE',
      `unknown secret type ${JSON.stringify(type.slice(0, 40))}; accepted: ${SECRET_TYPES.join(', ')}`,
    );
  }
}

export function rotatorFor(type: string): Rotator {
  assertSecretType(type);
  return ROTATORS[type];
}
