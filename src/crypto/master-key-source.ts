import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { RotorError } from '../core/errors.js';

export const MASTER_KEY_BYTES = 32;
const HOW_TO_GENERATE = 'generate one with `openssl rand -base64 32`';

/** Decodes a base64 master key, rejecting anything that is not exactly 32 bytes. */
export function decodeMasterKey(text: string, origin: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== MASTER_KEY_BYTES) {
    throw new RotorError(
      'ERR_MASTER_KEY_INVALID',
      `${origin} must be base64 of exactly ${MASTER_KEY_BYTES} bytes (got ${key.length} bytes); ${HOW_TO_GENERATE}`,
    );
  }
  return key;
}

/**
 * The master key for this process: `ROTOR_MASTER_KEY` wins over the key file
 * that `rotor init` wrote. Undefined when neither exists.
 */
export function readMasterKey(envValue: string | undefined, keyFile: string): Buffer | undefined {
  if (envValue !== undefined && envValue !== '')
    return decodeMasterKey(envValue, 'ROTOR_MASTER_KEY');
  let text: string;
  try {
    text = readFileSync(keyFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RotorError(
      'ERR_MASTER_KEY_INVALID',
      `cannot read master key file ${keyFile}: ${(error as Error).message}`,
    );
  }
  return decodeMasterKey(text, `master key file ${keyFile}`);
}

/** Creates a new random master key file readable by its owner only; never overwrites one. */
export function createMasterKeyFile(keyFile: string): Buffer {
  const key = randomBytes(MASTER_KEY_BYTES);
  writeFileSync(keyFile, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}
