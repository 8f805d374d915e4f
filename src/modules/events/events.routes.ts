// WS /ws/events: the session's live VM stream. The auth hook authenticates (Bearer header or
// ?token= for browsers); here the Origin is checked before the upgrade, so a foreign page cannot
// open a socket with a user's token.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../app.js';
import { forbidden } from '../../platform/http/app-error.js';
import { principalOf } from '../auth/index.js';
import type { EventHub } from './event-hub.js';

/** Same-origin (the Host the browser used) or one of the configured public origins. */
export function originAllowed(req: FastifyRequest, publicOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  // Non-browser clients send no Origin; browsers always do on a websocket.
  if (origin === undefined) return true;
  if (publicOrigins.includes(origin)) return true;
  const host = req.headers.host;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

export function registerEventRoutes(ctx: AppContext, hub: EventHub): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/ws/events',
      {
        websocket: true,
        config: { auth: 'user' },
        schema: { tags: ['events'], summary: 'Live VM events (websocket)', querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 4096 })) }) },
        preValidation: async (req) => {
          if (!originAllowed(req, ctx.config.publicOrigins)) throw forbidden('Origin not allowed');
        },
      },
      (socket, req) => {
        hub.attach(socket, principalOf(req));
      },
    );
  };
}
