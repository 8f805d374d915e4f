// Slow-client (slowloris) bounds. Node's own requestTimeout cannot be used: it is server-wide
// and would cut off multi-GB ISO uploads, which stream for minutes. Instead:
//  - headers must arrive within headersTimeoutMs (Node's headersTimeout, checked every
//    checkIntervalMs), which also closes connections that never send a request;
//  - a request body must be fully received within bodyTimeoutMs of its headers, enforced here
//    per request. Routes whose body reaches the handler as a stream (ISO upload) pass
//    preValidation before the body is read, so they are not cut off; they are authenticated in
//    onRequest, before a single body byte is accepted.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { rawErrorResponse } from './raw-client-errors.js';

export interface SlowRequestLimits {
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** How often Node sweeps connections for the headers timeout. */
  checkIntervalMs: number;
  /** Idle keep-alive connections are closed after this long (kept above common proxy idle timeouts). */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_SLOW_REQUEST_LIMITS: SlowRequestLimits = {
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 30_000,
  checkIntervalMs: 5_000,
  keepAliveTimeoutMs: 72_000,
};

export function registerSlowRequestGuard(app: FastifyInstance, limits: SlowRequestLimits = DEFAULT_SLOW_REQUEST_LIMITS): void {
  // Read by Node when the server starts listening (connection sweep) and on every sweep.
  app.server.headersTimeout = limits.headersTimeoutMs;
  (app.server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = limits.checkIntervalMs;
  app.server.keepAliveTimeout = limits.keepAliveTimeoutMs;

  const timers = new WeakMap<FastifyRequest, NodeJS.Timeout>();
  const clear = async (req: FastifyRequest): Promise<void> => {
    const t = timers.get(req);
    if (t) clearTimeout(t);
    timers.delete(req);
  };

  app.addHook('onRequest', async (req, reply) => {
    if (req.raw.complete) return;
    const timer = setTimeout(() => {
      timers.delete(req);
      if (req.raw.complete) return;
      const socket = req.raw.socket;
      req.log.warn({ url: req.url.split('?')[0], timeoutMs: limits.bodyTimeoutMs }, 'request body too slow; connection closed');
      if (!reply.raw.headersSent && socket.writable) socket.end(rawErrorResponse(408, 'REQUEST_TIMEOUT', 'The request body was not received in time'));
      socket.destroySoon();
      // A peer that never reads our 408 must not hold the socket either.
      setTimeout(() => socket.destroy(), 1000).unref();
    }, limits.bodyTimeoutMs);
    timer.unref();
    timers.set(req, timer);
  });
  // preValidation runs once the body has been parsed (or, for streamed bodies, handed over).
  app.addHook('preValidation', clear);
  app.addHook('onResponse', clear);
  app.addHook('onRequestAbort', clear);
}
