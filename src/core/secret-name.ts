import { RotorError } from './errors.js';

const SEGMENT = /^[a-z0-9._-]+$/;
// Every API request checks a name: most pass this one test, and only the others are taken apart.
const VALID = /^(?!\.\.?(?:\/|$))(?:[a-z0-9._-]+\/(?!\.\.?(?:\/|$)))*[a-z0-9._-]+$/;
export const MAX_SECRET_NAME_LENGTH = 256;
const ACCEPTED =
  'lowercase path segments of [a-z0-9._-] separated by "/", 1-256 characters, no ".." segment, no leading or trailing "/"';

/** Throws ERR_INVALID_NAME unless `name` is a valid secret name such as `prod/db/app`. */
export function assertSecretName(name: string): void {
  const error = secretNameError(name);
  if (error) throw error;
}

/** The ERR_INVALID_NAME error saying what is wrong with `name`, or undefined for a valid name. */
export function secretNameError(name: string): RotorError | undefined {
  const reason = secretNameProblem(name);
  if (reason === undefined) return undefined;
  return new RotorError(
    'ERR_INVALID_NAME',
    `invalid secret name ${JSON.stringify(truncate(name))}: ${reason}; expected ${ACCEPTED}`,
  );
}

function secretNameProblem(name: string): string | undefined {
  if (name.length <= MAX_SECRET_NAME_LENGTH && VALID.test(name)) return undefined;
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_SECRET_NAME_LENGTH) return `it is ${name.length} characters long`;
  if (name.startsWith('/') || name.endsWith('/')) return 'it starts or ends with "/"';
  for (const segment of name.split('/')) {
    if (segment === '') return 'it has an empty segment ("//")';
    if (segment === '..' || segment === '.') return `it has a "${segment}" segment`;
    if (!SEGMENT.test(segment))
      return `segment ${JSON.stringify(truncate(segment))} has a character outside [a-z0-9._-]`;
  }
  return undefined;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
