import { RotorError } from '../core/errors.js';
import type { Db } from './kysely-db.js';

export interface RotationInFlight {
  readonly id: number;
  readonly kind: string;
  readonly state: string;
}

/**
 * The secret's unfinished rotation, if any. Callers lock the secret's row
 * first, so that no rotation can begin between this read and their write.
 */
export async function rotationInFlight(
  tx: Db,
  secretId: number,
): Promise<RotationInFlight | undefined> {
  const row = await tx
    .selectFrom('rotations')
    .select(['id', 'kind', 'state'])
    .where('secret_id', '=', secretId)
    .where('finished_at', 'is', null)
    .executeTakeFirst();
  return row && { id: Number(row.id), kind: row.kind, state: row.state };
}

export function rotationInProgress(secret: string, inFlight: RotationInFlight): RotorError {
  return new RotorError(
    'ERR_ROTATION_IN_PROGRESS',
    `secret ${secret} has ${inFlight.kind} ${inFlight.id} in flight (state ${inFlight.state}); wait for it or cancel it with \`rotor rotate ${secret} --cancel\``,
  );
}
