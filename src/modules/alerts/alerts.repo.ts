// alerts rows: SQL only. One row per alert occurrence, keyed by (fingerprint, starts_at).
import { sql, type SQL } from 'drizzle-orm';
import { queryOne, queryRows, toIso, type Queryable } from '../../platform/db/query.js';

export type AlertStatus = 'firing' | 'resolved';

/** One alert of a notification, normalised for storage. */
export interface IncomingAlert {
  fingerprint: string;
  /** As Alertmanager sent it (RFC 3339); PostgreSQL parses it, so the key never loses precision in JS. */
  startsAt: string;
  alertname: string;
  severity: string | null;
  status: AlertStatus;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  endsAt: string | null;
  generatorUrl: string | null;
}

export interface UpsertResult {
  inserted: number;
  updated: number;
  /** The rows this batch inserted or changed, as the API shows them (pushed live to admins). */
  changed: AlertView[];
}

/**
 * Stores a batch in one statement. A row changes only while it is firing and the notification
 * says something new; a resolved row is final, so a late redelivery of the firing notification
 * (Alertmanager retries out of order) can never turn it back to firing.
 */
export async function upsertAlerts(db: Queryable, receiver: string, alerts: IncomingAlert[], now: Date): Promise<UpsertResult> {
  if (alerts.length === 0) return { inserted: 0, updated: 0, changed: [] };
  const rows = JSON.stringify(
    alerts.map((a) => ({
      fingerprint: a.fingerprint,
      starts_at: a.startsAt,
      alertname: a.alertname,
      severity: a.severity,
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      ends_at: a.endsAt,
      generator_url: a.generatorUrl,
    })),
  );
  const at = now.toISOString();
  const changed = await queryRows<AlertRow & { inserted: boolean }>(
    db,
    sql`insert into alerts (fingerprint, starts_at, alertname, severity, status, labels, annotations, ends_at, receiver, generator_url, received_at, updated_at)
      select x.fingerprint, x.starts_at, x.alertname, x.severity, x.status, x.labels, x.annotations, x.ends_at, ${receiver}, x.generator_url,
        ${at}::timestamptz, ${at}::timestamptz
      from jsonb_to_recordset(${rows}::jsonb) as x(fingerprint text, starts_at timestamptz, alertname text, severity text, status text,
        labels jsonb, annotations jsonb, ends_at timestamptz, generator_url text)
      on conflict (fingerprint, starts_at) do update set
        status = excluded.status, ends_at = excluded.ends_at, labels = excluded.labels, annotations = excluded.annotations,
        severity = excluded.severity, receiver = excluded.receiver, generator_url = excluded.generator_url, updated_at = excluded.updated_at
      where alerts.status = 'firing'
        and (alerts.status, alerts.ends_at, alerts.labels, alerts.annotations, alerts.receiver)
          is distinct from (excluded.status, excluded.ends_at, excluded.labels, excluded.annotations, excluded.receiver)
      returning (xmax = 0) as inserted, ${VIEW_COLUMNS}`,
  );
  const inserted = changed.filter((r) => r.inserted).length;
  return { inserted, updated: changed.length - inserted, changed: changed.map(({ inserted: _, ...row }) => toView(row)) };
}

export interface AlertFilter {
  status?: AlertStatus;
  severity?: string;
  alertname?: string;
  limit: number;
  offset: number;
}

/** An alert as the API shows it. */
export interface AlertView {
  fingerprint: string;
  alertname: string;
  status: AlertStatus;
  severity: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  starts_at: string;
  ends_at: string | null;
  received_at: string;
  updated_at: string;
  receiver: string;
}

interface AlertRow {
  fingerprint: string;
  alertname: string;
  status: AlertStatus;
  severity: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  starts_at: Date | string;
  ends_at: Date | string | null;
  received_at: Date | string;
  updated_at: Date | string;
  receiver: string;
}

const VIEW_COLUMNS = sql.raw('fingerprint, alertname, status, severity, labels, annotations, starts_at, ends_at, received_at, updated_at, receiver');

const toView = (r: AlertRow): AlertView => ({
  ...r,
  starts_at: toIso(r.starts_at)!,
  ends_at: toIso(r.ends_at),
  received_at: toIso(r.received_at)!,
  updated_at: toIso(r.updated_at)!,
});

function where(f: AlertFilter): SQL {
  const parts: SQL[] = [sql`true`];
  if (f.status) parts.push(sql`status = ${f.status}`);
  if (f.severity) parts.push(sql`severity = ${f.severity}`);
  if (f.alertname) parts.push(sql`alertname = ${f.alertname}`);
  return sql.join(parts, sql` and `);
}

/** Newest occurrence first. Exported through index.ts for the readiness checks. */
export async function listAlerts(db: Queryable, f: AlertFilter): Promise<{ items: AlertView[]; total: number }> {
  const w = where(f);
  const rows = await queryRows<AlertRow>(db, sql`select ${VIEW_COLUMNS} from alerts where ${w} order by starts_at desc, id desc limit ${f.limit} offset ${f.offset}`);
  const total = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from alerts where ${w}`);
  return { items: rows.map(toView), total: total?.n ?? 0 };
}
