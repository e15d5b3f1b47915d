import type { z } from 'zod';

const MAX_SHOWN = 32;
const MAX_UNKNOWN_SHOWN = 3;

/**
 * The first problem of a zod error as one line naming the field and what was
 * expected, without echoing long input back (it may be a secret).
 */
export function describeZodError(
  error: z.ZodError,
  raw: unknown,
  fields: readonly string[],
): string {
  const [issue] = error.issues;
  if (issue === undefined) return 'rejected';
  if (issue.code === 'unrecognized_keys') {
    const shown = issue.keys.slice(0, MAX_UNKNOWN_SHOWN).map((key) => quote(key));
    const more = issue.keys.length - shown.length;
    const list = shown.join(', ') + (more > 0 ? ` and ${more} more` : '');
    const noun = issue.keys.length > 1 ? 'fields' : 'field';
    return `unknown ${noun} ${list}; accepted: ${fields.join(', ')}`;
  }
  if (issue.path.length === 0) {
    if (issue.code !== 'invalid_type') return issue.message;
    const expected = issue.expected === 'object' ? 'expected an object' : issue.message;
    return `${expected} (got ${describeValue(raw)})`;
  }
  let value: unknown = raw;
  for (const key of issue.path) value = (value as Record<PropertyKey, unknown>)[key];
  const got = value === undefined ? '' : ` (got ${describeValue(value)})`;
  return `${issue.path.map(String).join('.')}: ${issue.message}${got}`;
}

/** A short, single-line rendering of a user-supplied value; long input is never echoed. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return value.length <= MAX_SHOWN
      ? JSON.stringify(value)
      : `a string of ${value.length} characters`;
  }
  if (value === null || typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function quote(key: string): string {
  return JSON.stringify(key.length <= MAX_SHOWN ? key : `${key.slice(0, MAX_SHOWN)}…`);
}
