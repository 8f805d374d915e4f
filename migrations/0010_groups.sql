-- Groups (a class, a team), their members and quota; the VMs provisioned for a group; the record
-- of each "provision for group" batch; scheduled snapshots of a VM or of a group's VMs.

create table groups (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(name) between 1 and 64),
  description text not null default '' check (char_length(description) <= 1000),
  -- caps the SUM of the group's VMs (keys vms, vcpus, memory_mb, disk_gb; absent or null = unlimited);
  -- each member's own quota applies as well
  quota jsonb not null default '{}'::jsonb,
  created_by uuid references users(id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index groups_name_key on groups (lower(name));

create table group_members (
  group_id uuid not null references groups(id) on delete cascade,
  user_id uuid not null references users(id) on delete cascade,
  added_at timestamptz not null default now(),
  primary key (group_id, user_id)
);
create index group_members_user_idx on group_members (user_id);

-- A VM provisioned for a group belongs to the group until the VM is deleted (the row follows it).
-- Deleting a group leaves its VMs with their owners.
create table group_vms (
  vm_uuid uuid primary key references vms(uuid) on delete cascade,
  group_id uuid not null references groups(id) on delete cascade,
  created_at timestamptz not null default now()
);
create index group_vms_group_idx on group_vms (group_id);

-- One "provision for group" request and its per-member outcome (kept after the VMs are gone).
create table group_provisions (
  id uuid primary key default gen_random_uuid(),
  group_id uuid not null references groups(id) on delete cascade,
  template_id uuid,
  name_prefix text not null,
  requested_by uuid references users(id) on delete set null,
  state text not null check (state in ('running', 'succeeded', 'partial', 'failed')),
  total integer not null check (total >= 0),
  created_at timestamptz not null default now(),
  finished_at timestamptz
);
create index group_provisions_group_idx on group_provisions (group_id, created_at);

create table group_provision_items (
  provision_id uuid not null references group_provisions(id) on delete cascade,
  user_id uuid not null,
  username text not null,
  vm_uuid uuid,
  vm_name text not null,
  state text not null check (state in ('pending', 'succeeded', 'failed')),
  error text,
  updated_at timestamptz not null default now(),
  primary key (provision_id, user_id)
);

-- Scheduled snapshots: one VM or every VM of a group, on a 5-field cron (UTC), keeping the newest
-- `retention` snapshots the schedule took per VM (manual snapshots are never touched).
create table snapshot_schedules (
  id uuid primary key default gen_random_uuid(),
  vm_uuid uuid references vms(uuid) on delete cascade,
  group_id uuid references groups(id) on delete cascade,
  cron text not null check (char_length(cron) between 9 and 200),
  retention integer not null check (retention between 1 and 100),
  enabled boolean not null default true,
  created_by uuid references users(id) on delete set null,
  next_run_at timestamptz not null,
  last_run_at timestamptz,
  last_result text check (last_result in ('success', 'partial', 'failure')),
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((vm_uuid is null) <> (group_id is null))
);
create index snapshot_schedules_due_idx on snapshot_schedules (next_run_at) where enabled;
create index snapshot_schedules_vm_idx on snapshot_schedules (vm_uuid);
create index snapshot_schedules_group_idx on snapshot_schedules (group_id);

-- Which schedule took a snapshot (null = taken by a person). Retention deletes only these.
alter table vm_snapshots add column schedule_id uuid references snapshot_schedules(id) on delete set null;
alter table vm_snapshots add column scheduled boolean not null default false;
create index vm_snapshots_schedule_idx on vm_snapshots (schedule_id, vm_uuid, created_at) where scheduled;
