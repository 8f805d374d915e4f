-- Backup archives made by this installation (limen backup create, POST /api/admin/backups).
-- The archive file is the source of truth; this table is the history an admin sees, with the
-- progress of a running backup and the result of the last verification.
create table backups (
  id uuid primary key default gen_random_uuid(),
  status text not null check (status in ('running', 'completed', 'failed', 'interrupted')),
  -- absolute path of the archive (null until it is complete)
  file_path text,
  size_bytes bigint,
  -- 'api' (an admin through the HTTP API), 'cli' (limen backup create), 'drill'
  origin text not null,
  requested_by uuid references users(id) on delete set null,
  with_isos boolean not null default false,
  vm_count integer,
  progress jsonb not null default '{}'::jsonb,
  error text,
  started_at timestamptz not null default now(),
  completed_at timestamptz,
  duration_ms integer,
  verified_at timestamptz,
  verified_ok boolean
);
create index backups_started_idx on backups (started_at desc);
