// Serves the single-page web UI (web/dist, built by `npm run build`) from `/`. Unknown non-API
// paths get index.html so client-side routes survive a reload. Until the UI is built, a small
// placeholder page says how to reach the API.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { projectRoot } from '../../config/runtime.js';

const PLACEHOLDER = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>LIMEN</title></head>
<body><h1>LIMEN</h1><p>The API is running. Health: <a href="/api/health">/api/health</a>,
metrics: <a href="/api/metrics">/api/metrics</a>, API docs: <a href="/api/docs">/api/docs</a>.</p></body></html>`;

export function registerWebUi(opts: { distDir?: string } = {}): FastifyPluginAsync {
  return async (app) => {
    const dist = opts.distDir ?? join(projectRoot, 'web', 'dist');
    const hasUi = existsSync(join(dist, 'index.html'));
    if (hasUi) {
      await app.register(fastifyStatic, { root: dist, prefix: '/', wildcard: false, index: ['index.html'] });
    }
    app.get('/*', { schema: { hide: true }, config: { auth: 'public' } }, async (req, reply) => {
      const path = req.url.split('?')[0] ?? '/';
      if (path.startsWith('/api/') || path.startsWith('/ws/')) {
        return reply.callNotFound();
      }
      if (hasUi) return reply.type('text/html').sendFile('index.html');
      return reply.type('text/html').send(PLACEHOLDER);
    });
  };
}
