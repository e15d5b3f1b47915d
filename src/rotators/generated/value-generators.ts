import { RotorError } from '../../core/errors.js';
import { describeZodError } from '../../core/zod-issues.js';
import type { ValueGenerator } from '../config-fields.js';
import { type ApiKeyConfig, apiKeyGenerator } from './api-key-generator.js';
import { type JwtSecretConfig, jwtSecretGenerator } from './jwt-secret-generator.js';
import { type PasswordConfig, passwordGenerator } from './password-generator.js';
import { type RandomConfig, randomGenerator } from './random-generator.js';

export type { ApiKeyConfig, JwtSecretConfig, PasswordConfig, RandomConfig };

/** Secret types whose values Rotor generates itself. */
export type GeneratedType = 'api-key' | 'password' | 'jwt-secret' | 'random';

export interface GeneratorConfigs {
  'api-key': ApiKeyConfig;
  password: PasswordConfig;
  'jwt-secret': JwtSecretConfig;
  random: RandomConfig;
}

/** A parsed config, every default applied. */
export type GeneratorConfig<T extends GeneratedType = GeneratedType> = GeneratorConfigs[T];

// A Record over GeneratedType: adding a type without a generator fails to compile.
const GENERATORS: { readonly [T in GeneratedType]: ValueGenerator<GeneratorConfigs[T]> } = {
  'api-key': apiKeyGenerator,
  password: passwordGenerator,
  'jwt-secret': jwtSecretGenerator,
  random: randomGenerator,
};

export const GENERATED_TYPES: readonly GeneratedType[] = Object.freeze(
  Object.keys(GENERATORS) as GeneratedType[],
);

export function isGeneratedType(s: string): s is GeneratedType {
  return Object.hasOwn(GENERATORS, s);
}

function generatorFor<T extends GeneratedType>(type: T): ValueGenerator<GeneratorConfigs[T]> {
  if (!isGeneratedType(type)) throw new TypeError(`not a generated secret type: ${String(type)}`);
  return GENERATORS[type];
}

/**
 * Validates a raw config (for example parsed YAML or a JSON request body) and applies the
 * defaults. `undefined` means "all defaults".
 * @throws RotorError ERR_INVALID_CONFIG naming the offending field and what it expects.
 */
export function parseGeneratorConfig<T extends GeneratedType>(
  type: T,
  raw: unknown,
): GeneratorConfig<T> {
  const generator = generatorFor(type);
  const result = generator.schema.safeParse(raw === undefined ? {} : raw);
  if (result.success) return result.data;
  throw new RotorError(
    'ERR_INVALID_CONFIG',
    `invalid config for type ${type}: ${describeZodError(result.error, raw, generator.fields)}`,
  );
}

/** A fresh value for a config returned by {@link parseGeneratorConfig}. */
export function generateValue<T extends GeneratedType>(
  type: T,
  config: GeneratorConfig<T>,
): string {
  return generatorFor(type).generate(config);
}
