import type { SecretValue } from '../core/secret-value.js';

const MAX_LENGTH = 500;

/**
 * A failure as it may be stored, logged and alerted: one line, capped, with
 * every value the step handled cut out, whatever a driver put in its message.
 */
export function sanitizedMessage(error: unknown, values: readonly SecretValue[]): string {
  let message = error instanceof Error ? error.message : String(error);
  for (const needle of values.flatMap(sensitiveParts)) {
    message = message.split(needle).join('[redacted]');
  }
  message = message.replace(/\s+/g, ' ').trim();
  return message.length > MAX_LENGTH ? `${message.slice(0, MAX_LENGTH - 1)}…` : message;
}

/** The value itself and, for credential JSON, its password on its own (drivers quote just that). */
function sensitiveParts(value: SecretValue): string[] {
  const plain = value.reveal();
  const parts = plain.length >= 4 ? [plain] : [];
  try {
    const parsed: unknown = JSON.parse(plain);
    if (
      parsed &&
      typeof parsed === 'object' &&
      'password' in parsed &&
      typeof parsed.password === 'string'
    ) {
      if (parsed.password.length >= 4) parts.push(parsed.password);
    }
  } catch {
    // Not JSON: the whole value is the only secret part.
  }
  return parts;
}
