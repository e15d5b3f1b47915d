import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { allows, allowsEverywhere } from '../access/token-policy.js';
import type { TokenView } from '../access/token-service.js';
import { RotorError } from '../core/errors.js';
import { secretNameError } from '../core/secret-name.js';
import { describeZodError } from '../core/zod-issues.js';
import { errorStatus, sendError } from './error-reply.js';
import type { Operation } from './operation.js';
import type { ServerServices } from './server-services.js';

const ANONYMOUS = 'anonymous';
// The operation recorded for a request that matched none.
const UNKNOWN_ROUTE = 'unknownRoute';
const SECRET_PREFIX = '/v1/secrets/{name}';

/**
 * Registers every operation. Secret names contain `/`, so all operations on
 * one secret share a wildcard route per method and are told apart by the
 * `:verb` after the name.
 */
export function registerOperations(
  app: FastifyInstance,
  operations: readonly Operation[],
  services: ServerServices,
): void {
  const onSecret = new Map<string, Map<string, Operation>>();
  for (const operation of operations) {
    if (operation.path.startsWith(SECRET_PREFIX)) {
      const verb = operation.path.slice(SECRET_PREFIX.length).replace(/^:/, '');
      const byVerb = onSecret.get(operation.method) ?? new Map<string, Operation>();
      byVerb.set(verb, operation);
      onSecret.set(operation.method, byVerb);
      continue;
    }
    app.route({
      method: operation.method,
      url: operation.path.replace(/\{(\w+)\}/g, ':$1'),
      handler: (request, reply) => run(operation, '', request, reply, services),
      errorHandler: (error, request, reply) =>
        refuseUnhandled(operation, '', error, request, reply, services),
    });
  }
  for (const [method, byVerb] of onSecret) {
    const dispatch = (request: FastifyRequest) => {
      const rest = (request.params as { '*': string })['*'];
      const colon = rest.lastIndexOf(':');
      const verb = colon === -1 ? '' : rest.slice(colon + 1);
      return {
        name: colon === -1 ? rest : rest.slice(0, colon),
        verb,
        operation: byVerb.get(verb),
      };
    };
    app.route({
      method,
      url: '/v1/secrets/*',
      handler: (request, reply) => {
        const { name, verb, operation } = dispatch(request);
        if (!operation) {
          return refuseUnknownRoute(
            new RotorError(
              'ERR_ROUTE_NOT_FOUND',
              `no ${method} action ${JSON.stringify(verb.slice(0, 32))} on secrets`,
            ),
            request,
            reply,
            services,
          );
        }
        return run(operation, name, request, reply, services);
      },
      errorHandler: (error, request, reply) => {
        const { name, operation } = dispatch(request);
        return operation
          ? refuseUnhandled(operation, name, error, request, reply, services)
          : sendError(reply, error);
      },
    });
  }
}

/**
 * A request Fastify refused before its handler ran (a body too large, not
 * JSON, of another media type) is audited like the others, under the token
 * it carried when that token is live.
 */
async function refuseUnhandled(
  operation: Operation,
  name: string,
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  services: ServerServices,
): Promise<void> {
  const started = performance.now();
  const status = errorStatus(error);
  const actor = await liveActor(request, services);
  const { audited } = checkName(operation, name);
  await auditRequest(services, operation, audited, actor, status).catch((auditError: unknown) =>
    services.logger.error({ err: auditError }, 'could not audit a refused request'),
  );
  sendError(reply, error);
  services.metrics.observeRequest(operation.id, status, (performance.now() - started) / 1000);
}

/**
 * A request for no route is audited like the others, under the token it
 * carried when that token is live. Without one it also counts as a refused
 * token: a scan of paths is held back by the same limit (whose 429s are not
 * audited) instead of growing the trail.
 */
export async function refuseUnknownRoute(
  error: RotorError,
  request: FastifyRequest,
  reply: FastifyReply,
  services: ServerServices,
): Promise<void> {
  const started = performance.now();
  const wait = services.limiter.retryAfter(request.ip);
  if (wait > 0) return sendError(reply, rateLimited(wait));
  const actor = await liveActor(request, services);
  if (actor === ANONYMOUS) services.limiter.recordFailure(request.ip);
  const status = errorStatus(error);
  await services.store
    .recordAudit(
      {
        actor,
        action: 'api.request',
        outcome: 'failure',
        details: { operation: UNKNOWN_ROUTE, method: request.method, status },
      },
      null,
    )
    .catch((auditError: unknown) =>
      services.logger.error({ err: auditError }, 'could not audit a refused request'),
    );
  sendError(reply, error);
  services.metrics.observeRequest(UNKNOWN_ROUTE, status, (performance.now() - started) / 1000);
}

async function run(
  operation: Operation,
  name: string,
  request: FastifyRequest,
  reply: FastifyReply,
  services: ServerServices,
): Promise<void> {
  const started = performance.now();
  let token: TokenView | undefined;
  const { error: nameError, audited } = checkName(operation, name);
  let status: number;
  try {
    token = cachedAuthentication(request, services) ?? (await authenticate(request, services));
    if (nameError) throw nameError;
    const query = parseInput(operation.query, request.query, 'query');
    const body = parseInput(operation.body, request.body, 'body');
    authorize(operation, token, name, body);
    const result = await operation.handle({ name, query, body, token, request, reply });
    status = reply.statusCode === 304 ? 304 : (operation.status ?? 200);
    // Recorded before the answer leaves: a request whose event cannot be written fails instead.
    if (!(operation.auditsItself && status < 300)) {
      await auditRequest(services, operation, audited, token.id, status);
    }
    // Not awaited: a reply is thenable, and awaiting it waits for the client to take the response.
    if (!reply.sent) reply.code(status).send(result);
  } catch (error) {
    status = errorStatus(error);
    if (status >= 500)
      services.logger.error({ err: error, operation: operation.id }, 'request failed');
    if (status === 401) services.limiter.recordFailure(request.ip);
    await auditRequest(services, operation, audited, token?.id ?? ANONYMOUS, status).catch(
      (auditError: unknown) =>
        services.logger.error({ err: auditError }, 'could not audit a refused request'),
    );
    sendError(reply, error);
  }
  services.metrics.observeRequest(operation.id, status, (performance.now() - started) / 1000);
}

async function authenticate(request: FastifyRequest, services: ServerServices): Promise<TokenView> {
  const wait = services.limiter.retryAfter(request.ip);
  if (wait > 0) throw rateLimited(wait);
  const bearer = bearerOf(request);
  if (!bearer)
    throw new RotorError('ERR_UNAUTHENTICATED', 'missing token: send Authorization: Bearer TOKEN');
  return services.tokens.authenticate(bearer);
}

/** The token when it is known without waiting (most requests), and not rate limited. */
function cachedAuthentication(
  request: FastifyRequest,
  services: ServerServices,
): TokenView | undefined {
  const bearer = bearerOf(request);
  if (bearer === undefined || services.limiter.retryAfter(request.ip) > 0) return undefined;
  return services.tokens.cachedAuthentication(bearer);
}

/** The id of the live token a request carries, or `anonymous`: who an audit event names. */
async function liveActor(request: FastifyRequest, services: ServerServices): Promise<string> {
  const bearer = bearerOf(request);
  if (bearer === undefined) return ANONYMOUS;
  return services.tokens.authenticate(bearer).then(
    (token) => token.id,
    () => ANONYMOUS,
  );
}

function rateLimited(waitSeconds: number): RotorError {
  return new RotorError(
    'ERR_RATE_LIMITED',
    `too many refused tokens from this address; retry in ${waitSeconds}s`,
  );
}

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
}

function authorize(operation: Operation, token: TokenView, name: string, body: unknown): void {
  const { scope, capability } = operation.access;
  const allowed =
    scope === 'secret'
      ? allows(token.policy, capability, name)
      : scope === 'bodyName'
        ? allows(token.policy, capability, (body as { name: string }).name)
        : scope === 'everywhere'
          ? allowsEverywhere(token.policy, capability)
          : true;
  if (!allowed) {
    throw new RotorError('ERR_FORBIDDEN', `this token lacks the ${capability} capability here`);
  }
}

const fieldsCache = new WeakMap<z.ZodType, readonly string[]>();
// Most requests have an empty query: each schema's reading of `{}` is kept, frozen.
const emptyInputs = new WeakMap<z.ZodType, unknown>();

function parseInput<T>(schema: z.ZodType<T> | undefined, raw: unknown, where: string): T {
  const emptyObject = typeof raw === 'object' && raw !== null && isEmpty(raw);
  if (!schema) {
    if (!(emptyObject || raw === undefined || raw === null)) {
      throw new RotorError('ERR_INVALID_INPUT', `${where}: expected none`);
    }
    return undefined as T;
  }
  if (emptyObject && emptyInputs.has(schema)) return emptyInputs.get(schema) as T;
  const result = schema.safeParse(raw ?? undefined);
  if (result.success && emptyObject) emptyInputs.set(schema, Object.freeze(result.data));
  if (result.success) return result.data;
  throw new RotorError(
    'ERR_INVALID_INPUT',
    `${where}: ${describeZodError(result.error, raw, acceptedFields(schema))}`,
  );
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

function acceptedFields(schema: z.ZodType): readonly string[] {
  let fields = fieldsCache.get(schema);
  if (!fields) {
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
      properties?: Record<string, unknown>;
      anyOf?: Array<{ properties?: Record<string, unknown> }>;
    };
    const properties = json.properties ?? json.anyOf?.find((s) => s.properties)?.properties ?? {};
    fields = Object.keys(properties);
    fieldsCache.set(schema, fields);
  }
  return fields;
}

/**
 * What is wrong with the name of a request on a secret, and the name its
 * audit event records: only a valid one, as anything else may not even fit
 * the store's text columns.
 */
function checkName(
  operation: Operation,
  name: string,
): { readonly error: RotorError | undefined; readonly audited: string | null } {
  if (!operation.path.includes('{name}')) return { error: undefined, audited: null };
  const error = secretNameError(name);
  return { error, audited: error ? null : name };
}

function auditRequest(
  services: ServerServices,
  operation: Operation,
  name: string | null,
  actor: string,
  status: number,
): Promise<void> {
  return services.store.recordAudit(
    {
      actor,
      action: 'api.request',
      outcome: status < 400 ? 'success' : 'failure',
      details: { operation: operation.id, status },
    },
    name,
  );
}
