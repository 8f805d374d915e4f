// The receiver's rules: who may deliver (the webhook bearer token), how a notification becomes
// rows, and the notification counter.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Counter } from 'prom-client';
import type { AppContext } from '../../app.js';
import { unauthorized } from '../../platform/http/app-error.js';
import { listAlerts, upsertAlerts, type AlertFilter, type AlertView, type IncomingAlert, type UpsertResult } from './alerts.repo.js';
import type { WebhookPayload } from './alerts.schemas.js';

const NOTIFICATIONS_METRIC = 'limen_alert_notifications_total';

/** Compares digests, so neither the content nor the length of the token leaks through timing. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

// Go's zero time (0001-01-01T00:00:00Z) and anything before 1970 mean "no end".
const realTime = (t: string): string | null => (Date.parse(t) > 0 ? t : null);

export function toIncoming(a: WebhookPayload['alerts'][number]): IncomingAlert {
  return {
    fingerprint: a.fingerprint,
    startsAt: a.startsAt,
    alertname: a.labels.alertname ?? '',
    severity: a.labels.severity ?? null,
    status: a.status,
    labels: a.labels,
    annotations: a.annotations,
    // A firing alert's endsAt is only Alertmanager's expiry guess; it ends when it resolves.
    endsAt: a.status === 'resolved' ? realTime(a.endsAt) : null,
    generatorUrl: a.generatorURL ?? null,
  };
}

/** One row per (fingerprint, startsAt); the last copy in a batch wins (one statement cannot touch a row twice). */
function dedupe(alerts: IncomingAlert[]): IncomingAlert[] {
  const byKey = new Map<string, IncomingAlert>();
  for (const a of alerts) byKey.set(`${a.fingerprint}\u0000${a.startsAt}`, a);
  return [...byKey.values()];
}

function notificationsCounter(ctx: AppContext): Counter<'status'> {
  const registry = ctx.metrics.registry;
  const existing = registry.getSingleMetric(NOTIFICATIONS_METRIC) as Counter<'status'> | undefined;
  if (existing) return existing;
  const c = new Counter({
    name: NOTIFICATIONS_METRIC,
    help: 'Alerts received from Alertmanager on the webhook, by alert status',
    labelNames: ['status'],
    registers: [registry],
  });
  for (const status of ['firing', 'resolved']) c.inc({ status }, 0);
  return c;
}

/** `alert.firing` / `alert.resolved` to admins of every instance (the webhook reaches only one). */
function publishAlert(ctx: AppContext, alert: AlertView): void {
  try {
    ctx.events.publishAdmin(`alert.${alert.status}`, { alert }, { cluster: true });
  } catch (err) {
    ctx.log.warn({ err, alert: alert.fingerprint }, 'alert event publish failed (admins see it on their next refetch)');
  }
}

export function createAlertsService(ctx: AppContext) {
  const db = ctx.database.db;
  const notifications = notificationsCounter(ctx);

  return {
    /** Throws 401 (and counts it) unless the Authorization header carries the webhook token. */
    checkToken(authorization: string | undefined): void {
      if (tokenMatches(bearer(authorization), ctx.config.alertWebhookToken)) return;
      ctx.metrics.authFailures.inc({ reason: 'invalid_token' });
      throw unauthorized('Invalid or missing webhook token');
    },

    async receive(payload: WebhookPayload): Promise<Omit<UpsertResult, 'changed'> & { received: number }> {
      const alerts = dedupe(payload.alerts.map(toIncoming));
      const { changed, ...r } = await upsertAlerts(db, payload.receiver, alerts, ctx.now());
      for (const a of payload.alerts) notifications.inc({ status: a.status });
      // Only what changed is pushed (a redelivery changes nothing), after the row is stored, so an
      // admin page that refetches on connect and merges these never misses or regresses a row.
      for (const alert of changed) publishAlert(ctx, alert);
      ctx.log.info({ receiver: payload.receiver, status: payload.status, alerts: payload.alerts.length, ...r }, 'alert notification received');
      return { received: payload.alerts.length, ...r };
    },

    list: (f: AlertFilter) => listAlerts(db, f),
  };
}

export type AlertsService = ReturnType<typeof createAlertsService>;
