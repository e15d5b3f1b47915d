import {
  createHash,
  createHmac,
  pbkdf2 as pbkdf2Callback,
  pbkdf2Sync,
  randomBytes,
} from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2 = promisify(pbkdf2Callback);

/** PostgreSQL's default `scram_iterations`. */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password`
 * (RFC 5802 and RFC 7677): `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
 * base64 throughout. `ALTER ROLE ... PASSWORD '<verifier>'` stores it as it is, so
 * the password itself never reaches the server, its statement log or
 * `pg_stat_statements`: the verifier lets the server check a login, not log in.
 *
 * @example
 * ```ts
 * await client.query(`ALTER ROLE app PASSWORD ${escapeLiteral(scramSha256Verifier(password))}`);
 * ```
 */
export function scramSha256Verifier(
  password: string,
  salt: Buffer = randomBytes(SALT_BYTES),
  iterations = SCRAM_ITERATIONS,
): string {
  assertParameters(salt, iterations);
  return verifierOf(
    pbkdf2Sync(saslPrep(password), salt, iterations, KEY_BYTES, 'sha256'),
    salt,
    iterations,
  );
}

/**
 * {@link scramSha256Verifier} computed on libuv's thread pool, so that the
 * 4096 rounds of PBKDF2 overlap with whatever the caller does meanwhile
 * (opening the connection that will store it).
 */
export async function scramSha256VerifierAsync(
  password: string,
  salt: Buffer = randomBytes(SALT_BYTES),
  iterations = SCRAM_ITERATIONS,
): Promise<string> {
  assertParameters(salt, iterations);
  const salted = await pbkdf2(saslPrep(password), salt, iterations, KEY_BYTES, 'sha256');
  return verifierOf(salted, salt, iterations);
}

function assertParameters(salt: Buffer, iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new TypeError(
      `scramSha256Verifier: iterations must be a positive integer (got ${iterations})`,
    );
  }
  if (salt.length === 0) throw new TypeError('scramSha256Verifier: salt must not be empty');
}

function verifierOf(salted: Buffer, salt: Buffer, iterations: number): string {
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = hmac(salted, 'Server Key');
  const b64 = (bytes: Buffer) => bytes.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

// RFC 3454 table C.1.2 (non-ASCII spaces, mapped to U+0020) and table B.1 (mapped to nothing).
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
const MAPPED_TO_NOTHING =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: the joiners and selectors are the point
  /[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;

/**
 * SASLprep (RFC 4013) as node-postgres applies it before SCRAM, so that the
 * verifier matches what its clients compute: PostgreSQL and libpq leave ASCII
 * untouched, and map and NFKC-normalise anything else. (Rotor's own passwords
 * are base62, so this matters only for a password a user supplied.)
 */
function saslPrep(password: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is the whole range tested
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  return password.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
}
