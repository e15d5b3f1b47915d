import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineGenerator, intField } from '../config-fields.js';

export const jwtSecretConfigSchema = z.strictObject({
  bytes: intField(32, 512, 64),
});

export type JwtSecretConfig = z.output<typeof jwtSecretConfigSchema>;

/** `bytes` random bytes as unpadded base64url, ready for an HMAC signing key. */
export const jwtSecretGenerator = defineGenerator(jwtSecretConfigSchema, ({ bytes }) =>
  randomBytes(bytes).toString('base64url'),
);
