import { z } from 'zod';

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
