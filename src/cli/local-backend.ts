import { TokenService } from '../access/token-service.js';
import type { ChainVerdict } from '../audit/audit-verifier.js';
import type { SecretValue } from '../core/secret-value.js';
import { tailAudit, verifyAudit } from '../service/audit-service.js';
import {
  auditEventJson,
  outcomeJson,
  revealedJson,
  rotationJson,
  secretJson,
  summaryJson,
  tokenJson,
  versionJson,
} from '../service/representations.js';
import type { CreateSecretInput } from '../service/secret-service.js';
import type { VersionSelector } from '../store/store.js';
import { CLI_ACTOR, type CliRotor } from './cli-context.js';
import type {
  AuditEventJson,
  CreatedTokenJson,
  NewToken,
  OutcomeJson,
  PutJson,
  RevealedJson,
  RotationJson,
  RotorBackend,
  SecretJson,
  SummaryJson,
  TokenJson,
  VersionJson,
} from './rotor-backend.js';

/** Commands run in this process on the store, recorded in the audit trail as `cli`. */
export class LocalBackend implements RotorBackend {
  readonly #rotor: CliRotor;
  readonly #tokens: TokenService;

  constructor(rotor: CliRotor) {
    this.#rotor = rotor;
    this.#tokens = new TokenService(rotor.store);
  }

  async createSecret(input: CreateSecretInput): Promise<SecretJson> {
    return secretJson(await this.#rotor.secrets.create(input, CLI_ACTOR));
  }

  async readSecret(name: string, selector: VersionSelector): Promise<RevealedJson> {
    return revealedJson(await this.#rotor.secrets.reveal(name, selector, CLI_ACTOR));
  }

  async putSecret(name: string, value: SecretValue): Promise<PutJson> {
    return { name, ...versionJson(await this.#rotor.secrets.put(name, value, CLI_ACTOR)) };
  }

  async listSecrets(prefix?: string): Promise<SummaryJson[]> {
    return (await this.#rotor.secrets.list(prefix)).map(summaryJson);
  }

  async secretHistory(name: string): Promise<VersionJson[]> {
    return (await this.#rotor.secrets.history(name)).map(versionJson);
  }

  async updatePolicy(name: string, policy: Readonly<Record<string, unknown>>): Promise<SecretJson> {
    return secretJson(await this.#rotor.secrets.update(name, { policy }, CLI_ACTOR));
  }

  async resumeSecret(name: string): Promise<SecretJson> {
    return secretJson(await this.#rotor.secrets.resume(name, CLI_ACTOR));
  }

  deleteSecret(name: string): Promise<void> {
    return this.#rotor.secrets.delete(name, CLI_ACTOR);
  }

  async rotate(name: string, options: { readonly dryRun: boolean }): Promise<OutcomeJson> {
    return outcomeJson(await this.#rotor.engine.rotate(name, CLI_ACTOR, options));
  }

  async cancelRotation(name: string): Promise<OutcomeJson> {
    return outcomeJson(await this.#rotor.engine.cancel(name, CLI_ACTOR));
  }

  async rollback(name: string): Promise<OutcomeJson> {
    return outcomeJson(await this.#rotor.engine.rollback(name, CLI_ACTOR));
  }

  async unfinishedRotations(): Promise<RotationJson[]> {
    return (await this.#rotor.store.rotations.unfinished()).map(rotationJson);
  }

  async auditTail(last: number, secret?: string): Promise<AuditEventJson[]> {
    return (await tailAudit(this.#rotor.store, last, secret)).map(auditEventJson);
  }

  verifyAudit(): Promise<ChainVerdict> {
    return verifyAudit(this.#rotor.store);
  }

  async createToken(input: NewToken): Promise<CreatedTokenJson> {
    const created = await this.#tokens.create(input, CLI_ACTOR);
    return { ...tokenJson(created), token: created.token };
  }

  async listTokens(): Promise<TokenJson[]> {
    return (await this.#tokens.list()).map(tokenJson);
  }

  revokeToken(id: string): Promise<void> {
    return this.#tokens.revoke(id, CLI_ACTOR);
  }
}
