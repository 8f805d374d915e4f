// Counts every response, including 401/404/429, by route *pattern* — never a raw path, which
// would let any client blow up the number of series.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';

export function routeLabel(routePattern: string | undefined): string {
  return routePattern ?? 'unmatched';
}

export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = routeLabel(req.routeOptions.url);
    const method = req.method;
    metrics.httpRequests.inc({ method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method, route }, reply.elapsedTime / 1000);
  });
}
