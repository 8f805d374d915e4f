// The one place that turns any thrown error into the contract's error body (CONTRACT.md §3).
// 5xx bodies never carry internals; the full error goes to the log with the request id.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorBody, type ErrorCode, ERROR_STATUS } from './app-error.js';

function body(req: FastifyRequest, code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  const b: ErrorBody = { code: ERROR_STATUS[code], message, error_code: code, request_id: String(req.id) };
  if (details !== undefined) b.details = details;
  return b;
}

/** Maps Fastify's own errors (validation, body size, content type) onto contract codes. */
function fromFastify(err: FastifyError): { code: ErrorCode; message: string; details?: Record<string, unknown> } | undefined {
  if (err.validation) {
    const first = err.validation[0];
    const ctx = err.validationContext ?? 'body';
    const path = first?.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
    const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
    const field = [path, missing].filter(Boolean).join('.') || ctx;
    return {
      code: 'VALIDATION_FAILED',
      message: `Invalid ${ctx}: ${field} ${first?.message ?? 'is invalid'}`,
      details: { field, location: ctx },
    };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported content type; send application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { code: 'VALIDATION_FAILED', message: 'Request body is not valid JSON', details: { field: 'body' } };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'VALIDATION_FAILED', message: 'Invalid Content-Length', details: { field: 'content-length' } };
    default:
      break;
  }
  if (err instanceof SyntaxError && err.statusCode === 400) {
    return { code: 'VALIDATION_FAILED', message: 'Request body is not valid JSON', details: { field: 'body' } };
  }
  return undefined;
}

/**
 * The database (or its connection pool) is unreachable or overloaded: the client gets a 503 it
 * can retry, not a 500. Matched by PostgreSQL SQLSTATE class 08 / 57P0x and node-postgres/socket
 * errors, looked up along the cause chain.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 5 && e; i++) {
    const code = (e as { code?: unknown }).code;
    const m = (e as { message?: unknown }).message;
    const msg = typeof m === 'string' ? m : '';
    if (typeof code === 'string' && (/^08/.test(code) || /^57P0/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code))) return true;
    if (/timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Client has encountered a connection error|database ping timed out/i.test(msg)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function sendError(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof AppError) {
    if (err.headers) void reply.headers(err.headers);
    if (err.status >= 500) req.log.error({ err }, 'request failed');
    return reply.code(err.status).send(body(req, err.code, err.message, err.details));
  }
  const mapped = fromFastify(err as FastifyError);
  if (mapped) return reply.code(ERROR_STATUS[mapped.code]).send(body(req, mapped.code, mapped.message, mapped.details));
  const status = (err as FastifyError).statusCode;
  if (status === 404) return reply.code(404).send(body(req, 'NOT_FOUND', 'Not found'));
  if (status === 413) return reply.code(413).send(body(req, 'PAYLOAD_TOO_LARGE', 'Request body is too large'));
  if (status === 415) return reply.code(415).send(body(req, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type'));
  if (status !== undefined && status >= 400 && status < 500) {
    return reply.code(400).send(body(req, 'VALIDATION_FAILED', 'Bad request', { field: 'request' }));
  }
  if (isDatabaseUnavailable(err)) {
    req.log.warn({ err }, 'database unavailable');
    return reply.code(503).header('retry-after', '5').send(body(req, 'UNAVAILABLE', 'The database is unavailable; try again shortly'));
  }
  req.log.error({ err }, 'unhandled error');
  return reply.code(500).send(body(req, 'INTERNAL', 'Internal server error'));
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => sendError(req, reply, err));
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(body(req, 'NOT_FOUND', `Route ${req.method} ${req.url.split('?')[0]} not found`));
  });
}
