import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Capability } from '../access/token-policy.js';
import type { TokenView } from '../access/token-service.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * What a token must hold for an operation. Checked before anything is read,
 * so a refusal says nothing about whether a secret exists.
 * - `secret`: the capability on the secret named in the path;
 * - `bodyName`: on the secret named by the body's `name` (creation);
 * - `filtered`: any token may ask; results are cut to what it may see with the capability;
 * - `everywhere`: a rule on `**` (Rotor-wide actions such as managing tokens).
 */
export type Access =
  | { readonly scope: 'secret'; readonly capability: Capability }
  | { readonly scope: 'bodyName'; readonly capability: Capability }
  | { readonly scope: 'filtered'; readonly capability: Capability }
  | { readonly scope: 'everywhere'; readonly capability: Capability };

export interface OperationContext<Q, B> {
  /** The secret named in the path; empty for operations without one. */
  readonly name: string;
  readonly query: Q;
  readonly body: B;
  readonly token: TokenView;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

/**
 * One API operation: the single description from which the router validates
 * and authorises requests and the OpenAPI document is written.
 */
export interface Operation<Q = unknown, B = unknown> {
  readonly id: string;
  readonly method: HttpMethod;
  /** OpenAPI path; `{name}` is a secret name that may contain `/`, and `:verb` an action on it. */
  readonly path: string;
  readonly summary: string;
  readonly access: Access;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  readonly status?: number;
  /**
   * The store already writes an audit event for a successful call (reads of
   * values, every change), so the request is not recorded a second time.
   */
  readonly auditsItself?: boolean;
  handle(context: OperationContext<Q, B>): Promise<unknown>;
}

/** Keeps each operation's query and body types tied to its handler. */
export function defineOperation<Q = undefined, B = undefined>(
  operation: Operation<Q, B>,
): Operation<unknown, unknown> {
  return operation as Operation<unknown, unknown>;
}
