import { RotorError } from '../core/errors.js';
import { SecretValue } from '../core/secret-value.js';
import {
  GENERATED_TYPES,
  type GeneratedType,
  generateValue,
  isGeneratedType,
  parseGeneratorConfig,
} from './generated/value-generators.js';

export type SecretType = GeneratedType;
export const SECRET_TYPES: readonly SecretType[] = GENERATED_TYPES;

export function assertSecretType(type: string): asserts type is SecretType {
  if (!isGeneratedType(type)) {
    throw new RotorError(
      'ERR_UNKNOWN_TYPE',
      `unknown secret type ${JSON.stringify(type.slice(0, 40))}; accepted: ${SECRET_TYPES.join(', ')}`,
    );
  }
}

/** Validates a type's config and applies its defaults; throws ERR_INVALID_CONFIG naming the field. */
export function parseSecretConfig(type: SecretType, raw: unknown): Record<string, unknown> {
  return { ...parseGeneratorConfig(type, raw) };
}

export function generateSecretValue(
  type: SecretType,
  config: Readonly<Record<string, unknown>>,
): SecretValue {
  return SecretValue.fromString(generateValue(type, parseGeneratorConfig(type, config)));
}

/** The config field that the CLI's `--length` sets: characters for passwords, bytes of entropy otherwise. */
export const LENGTH_FIELD: Readonly<Record<SecretType, string>> = {
  password: 'length',
  'api-key': 'bytes',
  'jwt-secret': 'bytes',
  random: 'bytes',
};
