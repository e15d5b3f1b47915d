import type { SecretValue } from '../core/secret-value.js';

/** A value together with the version that holds it. */
export interface VersionedValue {
  readonly version: number;
  readonly value: SecretValue;
}

export interface RotatorSecret {
  readonly name: string;
  /** The type's config, already parsed by {@link Rotator.parseConfig}. */
  readonly config: Readonly<Record<string, unknown>>;
}

export interface RotatorContext {
  readonly now: () => Date;
  /** The current value of another secret, such as the admin credential a config names. */
  readSecret(name: string): Promise<SecretValue>;
}

export interface StepInput {
  readonly secret: RotatorSecret;
  readonly current: VersionedValue;
  readonly pending: VersionedValue;
}

/** What a drift check found when it used the current value on the target. */
export type CheckResult = 'accepted' | 'no-target';

export interface RetireInput {
  readonly secret: RotatorSecret;
  readonly current: VersionedValue;
  /** The version whose grace period ended. */
  readonly retiring: VersionedValue;
}

/**
 * The plugin that knows one type of secret. It owns only its target: the
 * engine owns persistence, leases and retries. Every step must be idempotent,
 * because a crash can make the engine run it again.
 */
export interface Rotator {
  /** Validates a raw config and applies defaults; throws ERR_INVALID_CONFIG naming the field. */
  parseConfig(raw: unknown): Record<string, unknown>;
  /** A fresh value; `current` lets alternating strategies pick the other login. */
  generate(
    secret: RotatorSecret,
    current: VersionedValue | undefined,
    ctx: RotatorContext,
  ): Promise<SecretValue>;
  /** Makes the target accept `pending` (it must keep accepting `current`). */
  apply(input: StepInput, ctx: RotatorContext): Promise<void>;
  /** Proves for real that the target accepts `pending`; throws when it does not. */
  verify(input: StepInput, ctx: RotatorContext): Promise<void>;
  /** Revokes `retiring` on the target where the strategy allows. */
  retire(input: RetireInput, ctx: RotatorContext): Promise<void>;
  /** Leaves the target accepting `current` and forgetting `pending`. */
  rollback(input: StepInput, ctx: RotatorContext): Promise<void>;
  /**
   * Drift check: uses `current` on the target for real. Throws ERR_TARGET_AUTH
   * when it is rejected (changed behind Rotor's back), ERR_TARGET_UNREACHABLE
   * when the target cannot be reached; `no-target` when there is nothing to check.
   */
  check(secret: RotatorSecret, current: VersionedValue, ctx: RotatorContext): Promise<CheckResult>;
  /** Rejects a user-supplied value this type cannot use (ERR_INVALID_INPUT naming the field). */
  validateValue(secret: RotatorSecret, value: SecretValue): void;
}
