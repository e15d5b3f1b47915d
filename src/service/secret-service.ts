import { timingSafeEqual } from 'node:crypto';
import type { Actor } from '../audit/audit-event.js';
import { RotorError } from '../core/errors.js';
import { defaultPolicy, graceEndsAt, resolvePolicy } from '../core/policy.js';
import { planNextRotation } from '../core/rotation-schedule.js';
import type { SecretRecord, SecretSummary, Stage, VersionRecord } from '../core/secret.js';
import { assertSecretName } from '../core/secret-name.js';
import type { SecretValue } from '../core/secret-value.js';
import { openValue, sealValue } from '../crypto/envelope.js';
import { type MasterKeyring, valueFingerprint } from '../crypto/master-keyring.js';
import { OpenedValues } from '../crypto/opened-values.js';
import type { RotatorContext } from '../rotators/rotator.js';
import { rotatorFor } from '../rotators/rotator-registry.js';
import type { Sealer, Store, VersionSelector } from '../store/store.js';

export const MAX_VALUE_BYTES = 64 * 1024;

export interface CreateSecretInput {
  readonly name: string;
  readonly type: string;
  readonly config?: unknown;
  readonly policy?: unknown;
  /** A value given by the user; generated from the type's config when absent. */
  readonly value?: SecretValue;
}

export interface SecretChange {
  readonly policy?: unknown;
  /** Fields merged over the current config, then validated by the secret's type. */
  readonly config?: unknown;
}

export interface RevealedVersion {
  readonly name: string;
  readonly version: VersionRecord;
  readonly value: SecretValue;
}

/**
 * The operations on secrets shared by the CLI and the API: validation,
 * generation and encryption happen here, persistence in the store.
 */
export class SecretService {
  readonly #store: Store;
  readonly #keyring: MasterKeyring;
  readonly #now: () => Date;
  readonly #opened: OpenedValues;

  constructor(store: Store, keyring: MasterKeyring, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#keyring = keyring;
    this.#now = now;
    this.#opened = new OpenedValues(keyring);
  }

  async create(input: CreateSecretInput, actor: Actor): Promise<SecretRecord> {
    assertSecretName(input.name);
    const rotator = rotatorFor(input.type);
    const config = rotator.parseConfig(input.config);
    const policy = resolvePolicy(input.policy, defaultPolicy(input.type));
    const target = { name: input.name, config };
    if (input.value) {
      assertValueSize(input.value);
      rotator.validateValue(target, input.value);
    }
    const value =
      input.value ?? (await rotator.generate(target, undefined, this.#rotatorContext()));
    const nextRotationAt = planNextRotation(policy, {
      from: this.#now(),
      lastRotatedAt: null,
      random: Math.random,
    });
    return this.#store.createSecret(
      { name: input.name, type: input.type, config, policy, nextRotationAt },
      this.#sealer(input.name, value),
      {
        actor,
        action: 'secret.create',
        details: {
          type: input.type,
          generated: input.value === undefined,
          valueHmac: valueFingerprint(this.#keyring, value.revealBytes()),
        },
      },
    );
  }

  /** Changes a secret's policy or config; the next rotation is planned again from now. */
  async update(name: string, change: SecretChange, actor: Actor): Promise<SecretRecord> {
    const secret = await this.describe(name);
    const policy =
      change.policy === undefined ? secret.policy : resolvePolicy(change.policy, secret.policy);
    const config =
      change.config === undefined
        ? secret.config
        : rotatorFor(secret.type).parseConfig({ ...secret.config, ...asObject(change.config) });
    const nextRotationAt =
      secret.state === 'needs-attention'
        ? null
        : planNextRotation(policy, {
            from: this.#now(),
            lastRotatedAt: secret.lastRotatedAt,
            random: Math.random,
          });
    return this.#store.updateSecret(
      name,
      { config, policy, nextRotationAt },
      {
        actor,
        action: change.config === undefined ? 'secret.policy_updated' : 'secret.updated',
        details: { policy, ...(change.config === undefined ? {} : { config }) },
      },
    );
  }

  /**
   * Whether `presented` is a value valid now: `current`, or `previous` during
   * its grace. Every candidate is compared in constant time, whatever matches.
   */
  async verifyPresented(
    name: string,
    presented: SecretValue,
    actor: Actor,
  ): Promise<{ valid: boolean; stage: Stage | null; version: number | null }> {
    assertSecretName(name);
    const presentedMac = valueFingerprint(this.#keyring, presented.revealBytes());
    let match: VersionRecord | undefined;
    for (const { version, sealed } of await this.#store.validVersions(name)) {
      const value = openValue(sealed, { secret: name, version: version.number }, this.#keyring);
      const mac = valueFingerprint(this.#keyring, value.revealBytes());
      if (timingSafeEqual(Buffer.from(mac), Buffer.from(presentedMac)) && !match) match = version;
    }
    await this.#store.recordAudit(
      {
        actor,
        action: 'secret.verify',
        outcome: match ? 'success' : 'failure',
        details: { stage: match?.stage ?? null, version: match?.number ?? null },
      },
      name,
    );
    return {
      valid: match !== undefined,
      stage: match?.stage ?? null,
      version: match?.number ?? null,
    };
  }

  /** Lifts needs-attention: failures are forgotten and the secret is due now. */
  async resume(name: string, actor: Actor): Promise<SecretRecord> {
    await this.describe(name);
    return this.#store.resumeSecret(name, this.#now(), { actor, action: 'secret.resumed' });
  }

  /** Stores a user-given value as the new `current`; the old one stays valid as `previous` for the grace period. */
  async put(name: string, value: SecretValue, actor: Actor): Promise<VersionRecord> {
    assertSecretName(name);
    assertValueSize(value);
    const secret = await this.#require(name);
    rotatorFor(secret.type).validateValue({ name, config: secret.config }, value);
    return this.#store.putVersion(
      name,
      this.#sealer(name, value),
      {
        graceUntil: graceEndsAt(secret.policy, this.#now()),
        maxVersions: secret.policy.maxVersions,
      },
      {
        actor,
        action: 'secret.put',
        details: { valueHmac: valueFingerprint(this.#keyring, value.revealBytes()) },
      },
    );
  }

  async reveal(name: string, selector: VersionSelector, actor: Actor): Promise<RevealedVersion> {
    assertSecretName(name);
    const { version, sealed } = await this.#store.readVersion(name, selector, {
      actor,
      action: 'secret.read',
    });
    const value = this.#opened.open(sealed, { secret: name, version: version.number });
    return { name, version, value };
  }

  async describe(name: string): Promise<SecretRecord> {
    assertSecretName(name);
    return this.#require(name);
  }

  async list(prefix?: string): Promise<SecretSummary[]> {
    return this.#store.listSecrets(prefix);
  }

  async history(name: string): Promise<VersionRecord[]> {
    assertSecretName(name);
    return this.#store.listVersions(name);
  }

  async delete(name: string, actor: Actor): Promise<void> {
    assertSecretName(name);
    await this.#store.deleteSecret(name, { actor, action: 'secret.delete' });
  }

  async #require(name: string): Promise<SecretRecord> {
    const secret = await this.#store.getSecret(name);
    if (!secret) throw new RotorError('ERR_SECRET_NOT_FOUND', `secret ${name} does not exist`);
    return secret;
  }

  #rotatorContext(): RotatorContext {
    return {
      now: this.#now,
      readSecret: async (name) => (await this.reveal(name, { stage: 'current' }, 'rotor')).value,
    };
  }

  #sealer(name: string, value: SecretValue): Sealer {
    return (version) => sealValue(value, { secret: name, version }, this.#keyring.current);
  }
}

export function selectorFor(
  stage: Stage | undefined,
  version: number | undefined,
): VersionSelector {
  if (stage !== undefined && version !== undefined) {
    throw new RotorError('ERR_USAGE', 'give either --stage or --version, not both');
  }
  return version !== undefined ? { version } : { stage: stage ?? 'current' };
}

function asObject(input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new RotorError('ERR_INVALID_CONFIG', 'config: expected an object');
  }
  return input as Record<string, unknown>;
}

export function assertValueSize(value: SecretValue): void {
  if (value.byteLength === 0)
    throw new RotorError('ERR_INVALID_INPUT', 'value: expected a non-empty value');
  if (value.byteLength > MAX_VALUE_BYTES) {
    throw new RotorError(
      'ERR_INVALID_INPUT',
      `value: expected at most ${MAX_VALUE_BYTES} bytes (got ${value.byteLength})`,
    );
  }
}
