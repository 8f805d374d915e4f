-- Console tickets (single-use, short-lived, stored hashed) and console session history.
create table console_tickets (
  token_hash text primary key,
  user_id uuid not null references users(id) on delete cascade,
  vm_uuid uuid not null,
  session_family uuid not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz
);
create index console_tickets_expires_idx on console_tickets (expires_at);

create table console_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid,
  username text not null,
  vm_uuid uuid not null,
  instance_id text not null,
  client_ip text,
  started_at timestamptz not null default now(),
  ended_at timestamptz,
  end_reason text,
  bytes_to_vm bigint not null default 0,
  bytes_to_client bigint not null default 0,
  kill_requested_at timestamptz,
  -- Refreshed by the owning instance every few seconds: a stale open row belongs to a dead instance.
  last_seen_at timestamptz not null default now()
);
create index console_sessions_open_idx on console_sessions (vm_uuid) where ended_at is null;
create index console_sessions_user_idx on console_sessions (user_id, started_at desc);
