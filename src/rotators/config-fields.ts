import { z } from 'zod';
import { RotorError } from '../core/errors.js';
import { assertSecretName } from '../core/secret-name.js';
import { describeZodError } from '../core/zod-issues.js';

/** One generated secret type: its strict config schema and its value generator. */
export interface ValueGenerator<C> {
  readonly schema: z.ZodType<C>;
  /** The accepted config fields, listed when an unknown field is rejected. */
  readonly fields: readonly string[];
  generate(config: C): string;
}

export function defineGenerator<C>(
  schema: z.ZodType<C> & { readonly shape: z.ZodRawShape },
  generate: (config: C) => string,
): ValueGenerator<C> {
  return { schema, fields: Object.freeze(Object.keys(schema.shape)), generate };
}

// Each field reports one message for every way it can be wrong (type, range, format), so
// the error says what is expected rather than which check happened to fail first.

export function intField(min: number, max: number, fallback: number) {
  const error = `expected an integer from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error }).default(fallback);
}

export function booleanField(fallback: boolean) {
  return z.boolean({ error: 'expected true or false' }).default(fallback);
}

export function enumField<const T extends readonly [string, ...string[]]>(
  values: T,
  fallback: T[number],
) {
  const error = `expected one of ${values.map((v) => `"${v}"`).join(', ')}`;
  const schema = z.enum(values, { error });
  // TypeScript cannot reduce zod's enum output type while T is still generic.
  return schema.default(fallback as z.output<typeof schema>);
}

export function stringField(
  isValid: (value: string) => boolean,
  expected: string,
  fallback: string,
) {
  return z.string({ error: expected }).refine(isValid, { error: expected }).default(fallback);
}

const HOST_ERROR = 'expected a host name or address';

/** A target host: no whitespace or control characters, so messages quoting it stay on one line. */
export function hostField() {
  return z
    .string({ error: HOST_ERROR })
    .min(1, { error: HOST_ERROR })
    .max(255, { error: 'expected at most 255 characters' })
    .regex(/^[^\s\p{Cc}]+$/u, { error: 'expected no whitespace or control characters' });
}

/** The name of another Rotor secret, such as the admin credential a target config names. */
export function secretNameField(example: string) {
  const error = `expected the name of a secret such as "${example}"`;
  return z.string({ error }).refine(isSecretName, { error });
}

function isSecretName(name: string): boolean {
  try {
    assertSecretName(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Validates a raw target config with `schema` and applies its defaults.
 * @throws RotorError ERR_INVALID_CONFIG naming the type, the field and what it expects.
 */
export function parseTargetConfig<C>(
  type: string,
  schema: z.ZodType<C>,
  fields: readonly string[],
  raw: unknown,
): C {
  const parsed = schema.safeParse(raw === undefined ? {} : raw);
  if (parsed.success) return parsed.data;
  throw new RotorError(
    'ERR_INVALID_CONFIG',
    `invalid config for type ${type}: ${describeZodError(parsed.error, raw, fields)}`,
  );
}
