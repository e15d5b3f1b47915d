import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineGenerator, enumField, intField } from '../config-fields.js';

export const randomConfigSchema = z.strictObject({
  bytes: intField(1, 4096, 32),
  encoding: enumField(['base64', 'hex'], 'base64'),
});

export type RandomConfig = z.output<typeof randomConfigSchema>;

/** `bytes` random bytes in the chosen encoding (padded standard base64, or hex). */
export const randomGenerator = defineGenerator(randomConfigSchema, ({ bytes, encoding }) =>
  randomBytes(bytes).toString(encoding),
);
