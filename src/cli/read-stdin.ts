import { RotorError } from '../core/errors.js';
import { SecretValue } from '../core/secret-value.js';
import { MAX_VALUE_BYTES } from '../service/secret-service.js';

/**
 * Reads a secret value from standard input. One trailing newline is dropped,
 * because `echo value |` and here-strings add it.
 */
export async function readValueFromStdin(
  stream: NodeJS.ReadableStream = process.stdin,
): Promise<SecretValue> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buffer.length;
    if (size > MAX_VALUE_BYTES + 2) {
      throw new RotorError(
        'ERR_INVALID_INPUT',
        `value: expected at most ${MAX_VALUE_BYTES} bytes on stdin`,
      );
    }
    chunks.push(buffer);
  }
  let bytes = Buffer.concat(chunks);
  if (bytes.at(-1) === 0x0a) bytes = bytes.subarray(0, bytes.at(-2) === 0x0d ? -2 : -1);
  const value = SecretValue.fromBuffer(bytes);
  bytes.fill(0);
  for (const chunk of chunks) chunk.fill(0);
  return value;
}
