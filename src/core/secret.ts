import type { Policy } from './policy.js';

export const STAGES = ['current', 'pending', 'previous'] as const;
export type Stage = (typeof STAGES)[number];

/** `active` while the version holds its value; `destroyed` (aged out) and `discarded` (a rotation that never promoted) keep only metadata. */
export type VersionState = 'active' | 'destroyed' | 'discarded';

export type SecretState = 'active' | 'needs-attention';

export interface SecretRecord {
  readonly name: string;
  readonly type: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly policy: Policy;
  readonly state: SecretState;
  readonly lastVersion: number;
  readonly nextRotationAt: Date | null;
  readonly lastRotatedAt: Date | null;
  readonly failureCount: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface SecretSummary extends SecretRecord {
  readonly currentVersion: number;
  /** When the `previous` version stops being valid, if one is in grace. */
  readonly graceUntil: Date | null;
}

export interface VersionRecord {
  readonly number: number;
  readonly stage: Stage | null;
  readonly state: VersionState;
  readonly createdAt: Date;
  readonly graceUntil: Date | null;
}

/** The stages of a version as the API and CLI show them: a version with none is deprecated. */
export function stageLabels(version: VersionRecord): string[] {
  return version.stage === null ? [] : [version.stage];
}
