import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { isRotorError, RotorError } from '../core/errors.js';

/** Errors Fastify raises itself before a handler runs (malformed, oversized or unexpected bodies). */
interface FrameworkError {
  readonly code?: string;
  readonly statusCode?: number;
}

/** The one shape of every error the API returns: a stable code and a message naming the field. */
export function toApiError(error: unknown): RotorError {
  if (isRotorError(error)) return error;
  const { code, statusCode } = (error ?? {}) as FrameworkError;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new RotorError('ERR_BODY_TOO_LARGE', 'body: larger than the server accepts (1 MiB)');
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return new RotorError(
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      'body: expected Content-Type application/json',
    );
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return new RotorError(
      'ERR_INVALID_INPUT',
      'body: expected JSON, got an empty body with Content-Type application/json',
    );
  if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
    return new RotorError('ERR_INVALID_INPUT', 'body: its length does not match Content-Length');
  if (code === 'FST_ERR_BAD_URL')
    return new RotorError('ERR_INVALID_INPUT', 'path: expected a valid percent-encoded URL');
  if (code === 'FST_ERR_MAX_PARAM_LENGTH')
    return new RotorError('ERR_INVALID_INPUT', 'path: a path parameter is too long');
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    // JSON syntax errors and the like: Fastify's message describes the problem, never the body.
    return new RotorError('ERR_INVALID_INPUT', `request: ${(error as Error).message}`);
  }
  return new RotorError('ERR_SERVER', 'internal error; the server log has the details');
}

export function errorStatus(error: unknown): number {
  return toApiError(error).httpStatus;
}

/** Sends the API's error shape, without waiting for the response to reach the client. */
export function sendError(reply: FastifyReply, error: unknown): void {
  if (reply.sent) return;
  const apiError = toApiError(error);
  if (apiError.code === 'ERR_RATE_LIMITED')
    reply.header('retry-after', /\d+/.exec(apiError.message)?.[0] ?? '60');
  reply
    .code(apiError.httpStatus)
    .send({ error: { code: apiError.code, message: apiError.message } });
}

/**
 * A request too malformed to reach a route (broken HTTP, oversized headers, too slow) is
 * answered on the socket, still in the API's error shape, and the connection closed.
 */
export function sendClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const apiError =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new RotorError('ERR_HEADERS_TOO_LARGE', 'headers: larger than the server accepts')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RotorError('ERR_REQUEST_TIMEOUT', 'request: not received in time')
        : new RotorError('ERR_INVALID_INPUT', 'request: not a well-formed HTTP request');
  const body = JSON.stringify({ error: { code: apiError.code, message: apiError.message } });
  const status = apiError.httpStatus;
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
