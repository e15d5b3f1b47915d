/**
 * Every failure Rotor reports to a user is a {@link RotorError} with a stable
 * code. The code decides the HTTP status and the CLI exit code in one place,
 * so the API, the CLI and the docs cannot disagree.
 */
export const ERROR_CODES = {
  ERR_INVALID_INPUT: { http: 400, exit: 1 },
  ERR_USAGE: { http: 400, exit: 2 },
  ERR_INVALID_NAME: { http: 400, exit: 1 },
  ERR_INVALID_CONFIG: { http: 400, exit: 1 },
  ERR_INVALID_POLICY: { http: 400, exit: 1 },
  ERR_UNKNOWN_TYPE: { http: 400, exit: 1 },
  ERR_SECRET_NOT_FOUND: { http: 404, exit: 1 },
  ERR_VERSION_NOT_FOUND: { http: 404, exit: 1 },
  ERR_SECRET_EXISTS: { http: 409, exit: 1 },
  ERR_ROTATION_IN_PROGRESS: { http: 409, exit: 1 },
  ERR_VERSION_DESTROYED: { http: 410, exit: 1 },
  ERR_NOT_INITIALISED: { http: 503, exit: 1 },
  ERR_ALREADY_INITIALISED: { http: 409, exit: 1 },
  ERR_MASTER_KEY_MISSING: { http: 503, exit: 1 },
  ERR_MASTER_KEY_INVALID: { http: 503, exit: 1 },
  ERR_MASTER_KEY_MISMATCH: { http: 503, exit: 1 },
  ERR_DECRYPT: { http: 500, exit: 1 },
  ERR_STORE: { http: 503, exit: 1 },
  ERR_STORE_URL: { http: 500, exit: 1 },
  ERR_TARGET_UNREACHABLE: { http: 502, exit: 1 },
  ERR_TARGET_REJECTED: { http: 502, exit: 1 },
  ERR_TARGET_AUTH: { http: 502, exit: 1 },
  ERR_LEASE_LOST: { http: 409, exit: 1 },
  ERR_NO_PREVIOUS: { http: 409, exit: 1 },
  ERR_NOT_IN_FLIGHT: { http: 409, exit: 1 },
  ERR_ROTATION_FAILED: { http: 502, exit: 1 },
  ERR_AUDIT_BROKEN: { http: 500, exit: 1 },
  ERR_SINK_FAILED: { http: 502, exit: 1 },
  ERR_UNAUTHENTICATED: { http: 401, exit: 1 },
  ERR_FORBIDDEN: { http: 403, exit: 1 },
  ERR_RATE_LIMITED: { http: 429, exit: 1 },
  ERR_TOKEN_NOT_FOUND: { http: 404, exit: 1 },
  ERR_ROUTE_NOT_FOUND: { http: 404, exit: 1 },
  ERR_BODY_TOO_LARGE: { http: 413, exit: 1 },
  ERR_HEADERS_TOO_LARGE: { http: 431, exit: 1 },
  ERR_REQUEST_TIMEOUT: { http: 408, exit: 1 },
  ERR_UNSUPPORTED_MEDIA_TYPE: { http: 415, exit: 1 },
  ERR_SERVER: { http: 500, exit: 1 },
  ERR_REMOTE: { http: 502, exit: 1 },
  ERR_LISTEN: { http: 500, exit: 1 },
} as const satisfies Record<string, { http: number; exit: number }>;

export type RotorErrorCode = keyof typeof ERROR_CODES;

export class RotorError extends Error {
  readonly code: RotorErrorCode;

  constructor(code: RotorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RotorError';
    this.code = code;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
}

export function isRotorError(error: unknown): error is RotorError {
  return error instanceof RotorError;
}
