import type { Socket } from 'node:net';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { RotorError } from '../core/errors.js';
import { errorStatus, sendClientError, sendError } from './error-reply.js';
import { openApiDocument } from './openapi.js';
import type { Operation } from './operation.js';
import { auditOperations } from './operations/audit-operations.js';
import { eventOperations } from './operations/event-operations.js';
import { metricsOperations } from './operations/metrics-operations.js';
import { rotationOperations } from './operations/rotation-operations.js';
import { secretOperations } from './operations/secret-operations.js';
import { tokenOperations } from './operations/token-operations.js';
import { refuseUnknownRoute, registerOperations } from './router.js';
import type { ServerServices } from './server-services.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface ApiServerOptions {
  readonly version: string;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
}

export function apiOperations(services: ServerServices): Operation[] {
  return [
    ...secretOperations(services),
    ...rotationOperations(services),
    ...tokenOperations(services),
    ...auditOperations(services),
    ...eventOperations(services),
    ...metricsOperations(services),
  ];
}

/** The HTTP API as a Fastify instance, not yet listening. */
export async function createApiServer(
  services: ServerServices,
  options: ApiServerOptions,
): Promise<FastifyInstance> {
  const app = Fastify({
    // No logger for Fastify: with one it tracks every response's end for its own log
    // lines, and each request is in the audit trail anyway. Rotor logs failures itself.
    bodyLimit: BODY_LIMIT_BYTES,
    // Undecodable URLs and over-long path parameters get the API's error shape too.
    frameworkErrors: (error, _request, reply) => sendError(reply, error),
    clientErrorHandler: sendClientError,
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
  });
  const operations = apiOperations(services);

  app.setErrorHandler((error, request, reply) => {
    if (errorStatus(error) >= 500)
      services.logger.error({ err: error, url: request.url.split('?')[0] }, 'request failed');
    sendError(reply, error);
  });
  // Every body is JSON: text is refused with 415 like any other media type, not parsed as a string.
  app.removeContentTypeParser('text/plain');
  app.setNotFoundHandler((request, reply) =>
    refuseUnknownRoute(
      new RotorError(
        'ERR_ROUTE_NOT_FOUND',
        `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 100)}`,
      ),
      request,
      reply,
      services,
    ),
  );
  const connections = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  app.addHook('preClose', async () => {
    for (const close of [...services.streams]) close();
    // Connections kept alive, or opened by a client that has sent nothing yet, would hold the
    // closing server open until a timeout: each is closed once no request is in flight on it.
    const sweep = () => {
      app.server.closeIdleConnections();
      for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
    };
    const sweeper = setInterval(sweep, 100).unref();
    app.server.once('close', () => clearInterval(sweeper));
  });

  await app.register(fastifySwagger, {
    mode: 'static',
    specification: { document: openApiDocument(operations, options.version) as never },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const store = services.store.location;
    try {
      if (!(await services.store.isInitialised())) {
        return reply.code(503).send({ status: 'unavailable', store, reason: 'not initialised' });
      }
      const pending = await services.store.pendingMigrations();
      if (pending.length > 0) {
        return reply
          .code(503)
          .send({ status: 'unavailable', store, reason: 'migrations pending', pending });
      }
      return { status: 'ready', store };
    } catch {
      return reply.code(503).send({ status: 'unavailable', store, reason: 'store unreachable' });
    }
  });
  registerOperations(app, operations, services);
  return app;
}
