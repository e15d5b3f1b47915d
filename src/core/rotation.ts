import type { RotationKind, RotationState } from './rotation-state.js';

export interface RotationRecord {
  readonly id: number;
  readonly secretName: string;
  readonly kind: RotationKind;
  readonly state: RotationState;
  readonly fromVersion: number;
  readonly toVersion: number | null;
  readonly leaseOwner: string | null;
  readonly leaseUntil: Date | null;
  readonly attempt: number;
  /** Sanitised message of the last failure. */
  readonly error: string | null;
  readonly dryRun: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
}

/** Who holds a rotation, and for how long each renewal lasts. */
export interface Lease {
  readonly owner: string;
  readonly ttlMs: number;
}
