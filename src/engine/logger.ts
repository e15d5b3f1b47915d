import pino, { type Logger } from 'pino';

/**
 * Paths pino censors wherever they appear. Values are SecretValue objects
 * that print as [redacted] anyway; this catches plain strings that slip in.
 */
const REDACT = [
  'value',
  'password',
  'token',
  'secret.value',
  '*.value',
  '*.password',
  '*.token',
  'headers.authorization',
];

export function createLogger(level: string = process.env.ROTOR_LOG_LEVEL ?? 'warn'): Logger {
  return pino(
    { level, redact: { paths: REDACT, censor: '[redacted]' } },
    pino.destination({ fd: 2, sync: true }),
  );
}

export type { Logger };
