import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { BASE62, randomString } from '../../crypto/random-string.js';
import { defineGenerator, enumField, intField, stringField } from '../config-fields.js';

const PREFIX = /^[A-Za-z0-9_-]{0,32}$/;
const BITS_PER_BASE62_CHAR = Math.log2(62);

export const apiKeyConfigSchema = z.strictObject({
  bytes: intField(16, 256, 32),
  encoding: enumField(['base62', 'hex'], 'base62'),
  prefix: stringField(
    (prefix) => PREFIX.test(prefix),
    'expected at most 32 characters from A-Z, a-z, 0-9, "_" and "-"',
    '',
  ),
});

export type ApiKeyConfig = z.output<typeof apiKeyConfigSchema>;

/** `prefix` followed by `bytes` random bytes, hex-encoded or as base62 of equal entropy. */
export const apiKeyGenerator = defineGenerator(
  apiKeyConfigSchema,
  ({ bytes, encoding, prefix }) => {
    if (encoding === 'hex') return prefix + randomBytes(bytes).toString('hex');
    // Enough base62 characters to carry at least `bytes` bytes of entropy.
    return prefix + randomString(BASE62, Math.ceil((bytes * 8) / BITS_PER_BASE62_CHAR));
  },
);
