import { z } from 'zod';

// Only the characters of secret names: anything else matches no secret, and PostgreSQL refuses some (NUL).
const NAME_CHARACTERS = /^[a-z0-9._/-]*$/;

const SECRET_ERROR = 'expected a secret name such as prod/db/app';
const PREFIX_ERROR = 'expected the start of secret names, such as prod/';

/** A query parameter naming one secret to filter on. */
export const secretFilter = z
  .string({ error: SECRET_ERROR })
  .min(1, { error: SECRET_ERROR })
  .max(256, { error: SECRET_ERROR })
  .regex(NAME_CHARACTERS, { error: SECRET_ERROR });

/** A query parameter keeping the secrets whose names start with it. */
export const prefixFilter = z
  .string({ error: PREFIX_ERROR })
  .max(256, { error: PREFIX_ERROR })
  .regex(NAME_CHARACTERS, { error: PREFIX_ERROR });
