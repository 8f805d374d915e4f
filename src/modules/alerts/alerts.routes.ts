// POST /api/alerts/webhook (Alertmanager, bearer LIMEN_ALERT_WEBHOOK_TOKEN) and GET /api/alerts (admin).
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../app.js';
import { createAlertsService } from './alerts.service.js';
import { AlertItem, AlertListQuery, WebhookPayload, WebhookResponse } from './alerts.schemas.js';

// Alertmanager sends a whole alert group per notification; the app-wide 1 MiB is too tight.
const WEBHOOK_BODY_LIMIT = 8 * 1024 * 1024;

export function registerAlertRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    const alerts = createAlertsService(ctx);

    app.post(
      '/api/alerts/webhook',
      {
        config: { auth: 'webhook' },
        bodyLimit: WEBHOOK_BODY_LIMIT,
        // The token is checked before the body is read or validated: an unauthenticated caller
        // gets 401, never a validation hint, and never makes LIMEN parse 8 MiB.
        onRequest: async (req) => alerts.checkToken(req.headers.authorization),
        schema: {
          tags: ['alerts'],
          summary: 'Alertmanager webhook receiver (webhook_config, payload version 4)',
          security: [{ bearer: [] }],
          body: WebhookPayload,
          response: { 200: WebhookResponse },
        },
      },
      async (req) => alerts.receive(req.body as WebhookPayload),
    );

    app.get(
      '/api/alerts',
      {
        config: { auth: 'admin' },
        schema: {
          tags: ['alerts'],
          summary: 'Alerts received from Alertmanager (newest first)',
          security: [{ bearer: [] }],
          querystring: AlertListQuery,
          response: { 200: Type.Object({ items: Type.Array(AlertItem), total: Type.Integer() }) },
        },
      },
      async (req) => {
        const q = req.query as AlertListQuery;
        const perPage = Math.min(200, Number(q.per_page ?? 50));
        const page = Number(q.page ?? 1);
        return alerts.list({ status: q.status, severity: q.severity, alertname: q.alertname, limit: perPage, offset: (page - 1) * perPage });
      },
    );
  };
}
