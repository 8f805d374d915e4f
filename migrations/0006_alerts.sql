-- Alert notifications received from Alertmanager (POST /api/alerts/webhook).
-- One row per alert occurrence: Alertmanager identifies an alert by its label fingerprint, and a
-- new occurrence of the same alert (after it resolved) starts at a new startsAt. Redelivery of a
-- notification (Alertmanager retries, repeat_interval) updates that row instead of adding one.
create table alerts (
  id bigserial primary key,
  fingerprint text not null,
  starts_at timestamptz not null,
  alertname text not null,
  severity text,
  status text not null check (status in ('firing', 'resolved')),
  labels jsonb not null default '{}'::jsonb,
  annotations jsonb not null default '{}'::jsonb,
  -- null while firing: Alertmanager's endsAt of a firing alert is a placeholder, not an end.
  ends_at timestamptz,
  receiver text not null,
  generator_url text,
  received_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (fingerprint, starts_at)
);
create index alerts_starts_at_idx on alerts (starts_at desc, id desc);
create index alerts_status_idx on alerts (status);
create index alerts_alertname_idx on alerts (alertname);
