import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret's plaintext. It cannot leak by accident: JSON serialisation,
 * string conversion and `util.inspect` (console.log, pino) all print
 * `[redacted]`; only an explicit `reveal()` gives the value.
 */
export class SecretValue {
  readonly #bytes: Buffer;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  static fromString(text: string): SecretValue {
    return new SecretValue(Buffer.from(text, 'utf8'));
  }

  static fromBuffer(bytes: Buffer): SecretValue {
    return new SecretValue(Buffer.from(bytes));
  }

  get byteLength(): number {
    return this.#bytes.length;
  }

  reveal(): string {
    return this.#bytes.toString('utf8');
  }

  revealBytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
