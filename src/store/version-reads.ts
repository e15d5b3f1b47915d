import type { Selectable } from 'kysely';
import { RotorError } from '../core/errors.js';
import { toSealed, toVersion } from './row-mappers.js';
import type { VersionsTable } from './schema.js';
import type { SealedVersion, VersionSelector } from './store.js';

/** A version row with its value, or the error that says it was destroyed. */
export function sealedVersionOf(row: Selectable<VersionsTable>, name: string): SealedVersion {
  const sealed = toSealed(row);
  if (!sealed) {
    throw new RotorError(
      'ERR_VERSION_DESTROYED',
      `version ${row.number} of ${name} was destroyed; only its metadata remains`,
    );
  }
  return { version: toVersion(row), sealed };
}

/** The error for a selector that matched no version of an existing secret. */
export function missingVersion(name: string, selector: VersionSelector): RotorError {
  const which =
    'stage' in selector ? `no ${selector.stage} version` : `no version ${selector.version}`;
  return new RotorError('ERR_VERSION_NOT_FOUND', `secret ${name} has ${which}`);
}

export function missingSecret(name: string): RotorError {
  return new RotorError('ERR_SECRET_NOT_FOUND', `secret ${name} does not exist`);
}
