// Errors answered on the raw socket, before Fastify has a request (malformed HTTP, oversized
// headers, timeouts): still the contract's error body (CONTRACT.md §3), with a fresh request id,
// instead of Fastify's default {"error","message","statusCode"}.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyServerOptions } from 'fastify';

export function rawErrorResponse(status: number, errorCode: string, message: string): string {
  const body = JSON.stringify({ code: status, message, error_code: errorCode, request_id: randomUUID() });
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export const clientErrorHandler: NonNullable<FastifyServerOptions['clientErrorHandler']> = function (err, socket: Socket) {
  // Reset or already gone: nobody to answer (as Fastify's default handler).
  if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
  const code = (err as NodeJS.ErrnoException).code;
  const response =
    code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? rawErrorResponse(408, 'REQUEST_TIMEOUT', 'The request was not received in time')
      : code === 'HPE_HEADER_OVERFLOW'
        ? rawErrorResponse(431, 'HEADERS_TOO_LARGE', 'Request headers are too large')
        : rawErrorResponse(400, 'VALIDATION_FAILED', 'Malformed HTTP request');
  if (socket.writable) socket.write(response);
  socket.destroy();
};
