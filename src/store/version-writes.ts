import { RotorError } from '../core/errors.js';
import type { Stage, VersionRecord } from '../core/secret.js';
import type { Db } from './kysely-db.js';
import { toVersion } from './row-mappers.js';
import type { Sealer } from './store.js';

/** Inserts version `number`, sealed for exactly that number so the ciphertext cannot move rows. */
export async function insertVersion(
  tx: Db,
  secretId: number,
  name: string,
  number: number,
  stage: Stage,
  seal: Sealer,
  now: number,
): Promise<VersionRecord> {
  const sealed = seal(number);
  const row = await tx
    .insertInto('versions')
    .values({
      secret_id: secretId,
      number,
      stage,
      state: 'active',
      ciphertext: sealed.ciphertext,
      wrapped_key: sealed.wrappedKey,
      master_key_version: sealed.masterKeyVersion,
      created_at: now,
      grace_until: null,
      destroyed_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow(
      () => new RotorError('ERR_STORE', `could not store version ${number} of ${name}`),
    );
  return toVersion(row);
}

/** Destroys the values of deprecated versions beyond the newest `keep`; metadata stays. */
export async function destroyBeyond(
  tx: Db,
  secretId: number,
  keep: number,
  now: number,
): Promise<void> {
  await tx
    .updateTable('versions')
    .set({
      state: 'destroyed',
      ciphertext: null,
      wrapped_key: null,
      master_key_version: null,
      destroyed_at: now,
    })
    .where('secret_id', '=', secretId)
    .where('stage', 'is', null)
    .where('state', '=', 'active')
    .where('number', 'not in', (eb) =>
      eb
        .selectFrom('versions')
        .select('number')
        .where('secret_id', '=', secretId)
        .orderBy('number', 'desc')
        .limit(keep),
    )
    .execute();
}

/** Removes a version's value for good, keeping its number so numbers are never reused. */
export async function discardVersion(
  tx: Db,
  secretId: number,
  number: number,
  now: number,
): Promise<void> {
  await tx
    .updateTable('versions')
    .set({
      stage: null,
      state: 'discarded',
      ciphertext: null,
      wrapped_key: null,
      master_key_version: null,
      destroyed_at: now,
    })
    .where('secret_id', '=', secretId)
    .where('number', '=', number)
    .execute();
}

/**
 * Makes room for a new `current`: the old `previous` loses its stage and the
 * old `current` becomes `previous` until `graceUntil`. Order matters: the
 * unique (secret, stage) index is checked per statement.
 */
export async function demoteCurrent(tx: Db, secretId: number, graceUntil: Date): Promise<void> {
  await tx
    .updateTable('versions')
    .set({ stage: null, grace_until: null })
    .where('secret_id', '=', secretId)
    .where('stage', '=', 'previous')
    .execute();
  await tx
    .updateTable('versions')
    .set({ stage: 'previous', grace_until: graceUntil.getTime() })
    .where('secret_id', '=', secretId)
    .where('stage', '=', 'current')
    .execute();
}
