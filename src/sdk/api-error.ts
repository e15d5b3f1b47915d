/** An error answer from the Rotor API, or a failure to reach it; never carries a value or token. */
export class RotorApiError extends Error {
  /** The API's stable code (`ERR_FORBIDDEN`, ...), or `ERR_REMOTE` when the server could not be reached. */
  readonly code: string;
  /** The HTTP status; 0 when there was no answer. */
  readonly status: number;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RotorApiError';
    this.code = code;
    this.status = status;
  }
}
