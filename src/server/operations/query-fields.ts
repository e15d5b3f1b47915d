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

const SINCE_ERROR = 'expected the sequence number of the last event seen';
const LIMIT_ERROR = 'expected 1 to 1000';

/** `since`: audit sequence number after which to read. */
export const sinceField = z.coerce
  .number({ error: SINCE_ERROR })
  .int({ error: SINCE_ERROR })
  .min(0, { error: SINCE_ERROR });

/** `limit`: page size of a listing. */
export const limitField = z.coerce
  .number({ error: LIMIT_ERROR })
  .int({ error: LIMIT_ERROR })
  .min(1, { error: LIMIT_ERROR })
  .max(1000, { error: LIMIT_ERROR })
  .default(100);
