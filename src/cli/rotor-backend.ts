import type { TokenPolicy } from '../access/token-policy.js';
import type { ChainVerdict } from '../audit/audit-verifier.js';
import type { SecretValue } from '../core/secret-value.js';
import type {
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
import { withRotor } from './cli-context.js';
import { LocalBackend } from './local-backend.js';
import { RemoteBackend } from './remote-backend.js';
import { remoteTarget } from './remote-target.js';

export type SecretJson = ReturnType<typeof secretJson>;
export type SummaryJson = ReturnType<typeof summaryJson>;
export type VersionJson = ReturnType<typeof versionJson>;
export type RevealedJson = ReturnType<typeof revealedJson>;
export type RotationJson = ReturnType<typeof rotationJson>;
export type OutcomeJson = ReturnType<typeof outcomeJson>;
export type TokenJson = ReturnType<typeof tokenJson>;
export type AuditEventJson = ReturnType<typeof auditEventJson>;
export type PutJson = { readonly name: string } & VersionJson;
export type CreatedTokenJson = TokenJson & { readonly token: string };

export interface NewToken {
  readonly name?: string | undefined;
  readonly policy: TokenPolicy;
  readonly ttl?: string | undefined;
}

/**
 * Everything the commands ask of Rotor, answered in the JSON shapes of
 * `service/representations.ts`. The local backend opens the store; the remote
 * one calls the HTTP API, which answers in those same shapes, so a command
 * prints the same thing whichever answered it.
 */
export interface RotorBackend {
  createSecret(input: CreateSecretInput): Promise<SecretJson>;
  readSecret(name: string, selector: VersionSelector): Promise<RevealedJson>;
  putSecret(name: string, value: SecretValue): Promise<PutJson>;
  listSecrets(prefix?: string): Promise<SummaryJson[]>;
  secretHistory(name: string): Promise<VersionJson[]>;
  updatePolicy(name: string, policy: Readonly<Record<string, unknown>>): Promise<SecretJson>;
  resumeSecret(name: string): Promise<SecretJson>;
  deleteSecret(name: string): Promise<void>;
  rotate(name: string, options: { readonly dryRun: boolean }): Promise<OutcomeJson>;
  cancelRotation(name: string): Promise<OutcomeJson>;
  rollback(name: string): Promise<OutcomeJson>;
  /** Rotations not finished yet (retirements included), oldest first. */
  unfinishedRotations(): Promise<RotationJson[]>;
  /** The newest `last` events, oldest first. */
  auditTail(last: number, secret?: string): Promise<AuditEventJson[]>;
  verifyAudit(): Promise<ChainVerdict>;
  createToken(input: NewToken): Promise<CreatedTokenJson>;
  listTokens(): Promise<TokenJson[]>;
  revokeToken(id: string): Promise<void>;
}

/**
 * Runs one command's work against the Rotor server named by ROTOR_ADDR and
 * ROTOR_TOKEN when both are set, and against the local store otherwise.
 */
export async function withBackend<T>(work: (backend: RotorBackend) => Promise<T>): Promise<T> {
  const remote = remoteTarget(process.env);
  if (remote) return work(new RemoteBackend(remote));
  return withRotor((rotor) => work(new LocalBackend(rotor)));
}
