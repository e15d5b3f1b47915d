import type { SecretValue } from '../core/secret-value.js';
import type { FileSink } from '../core/sink.js';
import type { SinkEvent } from './sink-event.js';

/**
 * The bytes a file sink writes. `raw` is the value as is. `json` is
 * `{name, version, value}`, the value embedded as an object when it is a JSON
 * object (credentials) and as a string otherwise. `env` is one `KEY='value'`
 * line per top-level field of a JSON-object value, keyed `ROTOR_<FIELD>`
 * (uppercased, other characters as `_`), or `ROTOR_SECRET_VALUE` for any other value.
 */
export function fileContents(
  format: FileSink['format'],
  event: SinkEvent,
  value: SecretValue,
): Buffer {
  if (format === 'raw') return value.revealBytes();
  const plain = value.reveal();
  const object = jsonObject(plain);
  if (format === 'json') {
    const document = { name: event.secret, version: event.version, value: object ?? plain };
    return Buffer.from(`${JSON.stringify(document, null, 2)}\n`);
  }
  const fields = object ? Object.entries(object) : [['SECRET_VALUE', plain] as const];
  const lines = fields.map(([field, v]) => `${envKey(field)}=${envQuote(envText(v))}\n`);
  return Buffer.from(lines.join(''));
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function envKey(field: string): string {
  return `ROTOR_${field.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

function envText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * Single quotes keep every character literal for `sh` and dotenv alike; only
 * a value holding a single quote needs double quotes, escaped the `sh` way.
 */
function envQuote(text: string): string {
  return text.includes("'") ? `"${text.replace(/[\\"$`]/g, '\\$&')}"` : `'${text}'`;
}
