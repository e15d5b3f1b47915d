import type { ChainVerdict } from '../audit/audit-verifier.js';
import { ERROR_CODES, RotorError, type RotorErrorCode } from '../core/errors.js';
import { isTerminal, ROTATION_STATES } from '../core/rotation-state.js';
import { assertSecretName } from '../core/secret-name.js';
import type { SecretValue } from '../core/secret-value.js';
import { ApiClient, secretPath } from '../sdk/api-client.js';
import { RotorApiError } from '../sdk/api-error.js';
import { assertValueSize, type CreateSecretInput } from '../service/secret-service.js';
import type { VersionSelector } from '../store/store.js';
import type { RemoteTarget } from './remote-target.js';
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

/** The API's largest page (`limit`) for rotations and audit events. */
const PAGE = 1_000;
/** A rotation answers once it has applied and verified on the target, which can take a while. */
const ROTATION_TIMEOUT_MS = 600_000;
const UNFINISHED_STATES = ROTATION_STATES.filter((state) => !isTerminal(state));

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Query = Readonly<Record<string, string | number | undefined>>;

/**
 * Commands sent to a Rotor server through its HTTP API. Input is checked here
 * the way the local services check it, so both modes reject it with the same
 * message; the server's answers are already in the shapes commands print.
 */
export class RemoteBackend implements RotorBackend {
  readonly #client: ApiClient;
  readonly #url: string;

  constructor(target: RemoteTarget) {
    this.#client = new ApiClient(target);
    this.#url = target.url;
  }

  createSecret(input: CreateSecretInput): Promise<SecretJson> {
    assertSecretName(input.name);
    const value = input.value === undefined ? undefined : valueText(input.value);
    return this.#call('POST', '/v1/secrets', {
      body: {
        name: input.name,
        type: input.type,
        config: input.config,
        policy: input.policy,
        value,
      },
    });
  }

  readSecret(name: string, selector: VersionSelector): Promise<RevealedJson> {
    return this.#onSecret('GET', name, 'value', { query: selector });
  }

  putSecret(name: string, value: SecretValue): Promise<PutJson> {
    // The name before the value, in the order the local service checks them.
    assertSecretName(name);
    return this.#onSecret('POST', name, 'put', { body: { value: valueText(value) } });
  }

  listSecrets(prefix?: string): Promise<SummaryJson[]> {
    return this.#call('GET', '/v1/secrets', { query: { prefix } });
  }

  secretHistory(name: string): Promise<VersionJson[]> {
    return this.#onSecret('GET', name, 'versions');
  }

  updatePolicy(name: string, policy: Readonly<Record<string, unknown>>): Promise<SecretJson> {
    return this.#onSecret('PATCH', name, undefined, { body: { policy } });
  }

  resumeSecret(name: string): Promise<SecretJson> {
    return this.#onSecret('POST', name, 'resume');
  }

  deleteSecret(name: string): Promise<void> {
    return this.#onSecret('DELETE', name);
  }

  rotate(name: string, options: { readonly dryRun: boolean }): Promise<OutcomeJson> {
    return this.#onSecret('POST', name, 'rotate', {
      body: { dryRun: options.dryRun },
      timeoutMs: ROTATION_TIMEOUT_MS,
    });
  }

  cancelRotation(name: string): Promise<OutcomeJson> {
    return this.#onSecret('POST', name, 'cancel', { timeoutMs: ROTATION_TIMEOUT_MS });
  }

  rollback(name: string): Promise<OutcomeJson> {
    return this.#onSecret('POST', name, 'rollback', { timeoutMs: ROTATION_TIMEOUT_MS });
  }

  /** The API lists rotations by state, newest first: one walk per unfinished state. */
  async unfinishedRotations(): Promise<RotationJson[]> {
    const found: RotationJson[] = [];
    for (const state of UNFINISHED_STATES) {
      let before: number | undefined;
      for (;;) {
        const page = await this.#call<RotationJson[]>('GET', '/v1/rotations', {
          query: { state, before, limit: PAGE },
        });
        found.push(...page);
        if (page.length < PAGE) break;
        before = page.at(-1)?.id;
      }
    }
    return found.sort((a, b) => a.id - b.id);
  }

  /**
   * The API returns at most a page of the newest events; a longer tail is
   * read from the start of the trail, keeping the last `last` events.
   */
  async auditTail(last: number, secret?: string): Promise<AuditEventJson[]> {
    if (last <= PAGE) return this.#call('GET', '/v1/audit', { query: { secret, limit: last } });
    const kept: AuditEventJson[] = [];
    let since = 0;
    for (;;) {
      const page = await this.#call<AuditEventJson[]>('GET', '/v1/audit', {
        query: { secret, since, limit: PAGE },
      });
      kept.push(...page);
      kept.splice(0, Math.max(0, kept.length - last));
      if (page.length < PAGE) return kept;
      since = page.at(-1)?.seq ?? since;
    }
  }

  /** The server walks the chain against the head record it keeps, as the local command does. */
  verifyAudit(): Promise<ChainVerdict> {
    return this.#call('GET', '/v1/audit/verify');
  }

  createToken(input: NewToken): Promise<CreatedTokenJson> {
    return this.#call('POST', '/v1/tokens', {
      body: { name: input.name, policy: input.policy, ttl: input.ttl },
    });
  }

  listTokens(): Promise<TokenJson[]> {
    return this.#call('GET', '/v1/tokens');
  }

  revokeToken(id: string): Promise<void> {
    return this.#call('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
  }

  #onSecret<T>(
    method: Method,
    name: string,
    verb?: string,
    options: { query?: Query; body?: unknown; timeoutMs?: number } = {},
  ): Promise<T> {
    assertSecretName(name);
    return this.#call(method, secretPath(name, verb), options);
  }

  async #call<T>(
    method: Method,
    path: string,
    options: { query?: Query; body?: unknown; timeoutMs?: number } = {},
  ): Promise<T> {
    try {
      return (await this.#client.request<T>(method, path, options)).body;
    } catch (error) {
      throw this.#asRotorError(error);
    }
  }

  /** The server's own code and message, so the CLI exits as it would have locally. */
  #asRotorError(error: unknown): unknown {
    if (!(error instanceof RotorApiError)) return error;
    if (error.status === 0) {
      return new RotorError(
        'ERR_REMOTE',
        `cannot reach Rotor at ${this.#url} (ROTOR_ADDR): ${unreachableReason(error.cause)}`,
      );
    }
    if (error.code === 'ERR_UNAUTHENTICATED') {
      return new RotorError('ERR_UNAUTHENTICATED', `${error.message} (ROTOR_TOKEN)`);
    }
    return new RotorError(isErrorCode(error.code) ? error.code : 'ERR_REMOTE', error.message);
  }
}

function isErrorCode(code: string): code is RotorErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** fetch reports "fetch failed"; the reason (refused, unknown host, bad certificate) is its cause. */
function unreachableReason(fetchError: unknown): string {
  if ((fetchError as { name?: unknown } | undefined)?.name === 'TimeoutError') {
    return 'no answer in time';
  }
  const reason = (fetchError as { cause?: unknown } | undefined)?.cause ?? fetchError;
  return reason instanceof Error ? reason.message : String(reason);
}

/** The API carries values as JSON strings, so a value must be UTF-8 text to survive the trip intact. */
function valueText(value: SecretValue): string {
  assertValueSize(value);
  const bytes = value.revealBytes();
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RotorError(
      'ERR_INVALID_INPUT',
      'value: expected UTF-8 text; the API carries values as text, so store binary values encoded (base64 or hex)',
    );
  } finally {
    bytes.fill(0);
  }
}
