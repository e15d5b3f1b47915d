import type { SecretSummary } from './secret.js';

/** What `rotor status` says of a secret, most urgent first. */
export type SecretHealth =
  | 'needs-attention'
  | 'rotating'
  | 'failing'
  | 'overdue'
  | 'in-grace'
  | 'ok';

export function secretHealth(
  secret: SecretSummary,
  rotationInFlight: boolean,
  now: Date,
): SecretHealth {
  if (secret.state === 'needs-attention') return 'needs-attention';
  if (rotationInFlight) return 'rotating';
  if (secret.failureCount > 0) return 'failing';
  if (secret.nextRotationAt && secret.nextRotationAt < now) return 'overdue';
  if (secret.graceUntil && secret.graceUntil > now) return 'in-grace';
  return 'ok';
}
