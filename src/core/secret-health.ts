import type { SecretSummary } from './secret.js';

/** What `rotor status` says of a secret, most urgent first. */
export type SecretHealth =
  | 'needs-attention'
  | 'rotating'
  | 'failing'
  | 'overdue'
  | 'in-grace'
  | 'ok';

/** `inFlight`: the rotation in flight, if any; one that carries an error is stuck retrying. */
export function secretHealth(
  secret: Pick<SecretSummary, 'state' | 'failureCount' | 'nextRotationAt' | 'graceUntil'>,
  inFlight: { readonly error: string | null } | undefined,
  now: Date,
): SecretHealth {
  if (secret.state === 'needs-attention') return 'needs-attention';
  if (inFlight?.error) return 'failing';
  if (inFlight) return 'rotating';
  if (secret.failureCount > 0) return 'failing';
  if (secret.nextRotationAt && secret.nextRotationAt < now) return 'overdue';
  if (secret.graceUntil && secret.graceUntil > now) return 'in-grace';
  return 'ok';
}
