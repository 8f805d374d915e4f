-- Accounts, sessions, login throttling, audit log and instance settings.

create table users (
  id uuid primary key default gen_random_uuid(),
  username text not null,
  password_hash text not null,
  role text not null default 'user' check (role in ('user', 'admin')),
  status text not null default 'pending' check (status in ('pending', 'active', 'rejected', 'disabled')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  approved_at timestamptz,
  approved_by uuid references users(id) on delete set null
);
-- Usernames are case-insensitively unique (stored lower-case, enforced here too).
create unique index users_username_key on users (lower(username));

-- One row per refresh token. A login starts a family; each refresh rotates to a new row in the
-- same family. Presenting a rotated-away token is reuse: the whole family is revoked.
create table sessions (
  id uuid primary key default gen_random_uuid(),
  family_id uuid not null,
  user_id uuid not null references users(id) on delete cascade,
  token_hash text not null unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text,
  replaced_by uuid,
  ip text,
  user_agent text
);
create index sessions_family_idx on sessions (family_id);
create index sessions_user_idx on sessions (user_id);

-- Failed-login counters per account and per client IP, shared by every LIMEN instance.
create table login_throttle (
  key text primary key,
  failures integer not null default 0,
  last_failure_at timestamptz not null default now(),
  locked_until timestamptz
);

create table audit_log (
  id bigserial primary key,
  at timestamptz not null default now(),
  actor_id uuid,
  actor_username text,
  action text not null,
  target_type text,
  target_id text,
  result text not null check (result in ('success', 'failure', 'denied')),
  details jsonb not null default '{}'::jsonb,
  request_id text,
  ip text
);
create index audit_log_at_idx on audit_log (at desc);
create index audit_log_target_idx on audit_log (target_type, target_id);
create index audit_log_actor_idx on audit_log (actor_id);

create table settings (
  key text primary key,
  value jsonb not null,
  updated_at timestamptz not null default now()
);
