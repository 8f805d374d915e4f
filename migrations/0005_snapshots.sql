-- VM snapshots. The libvirt snapshot is named by the row id (a safe, unique name); the user's
-- name and description live here and are only ever passed to libvirt as escaped data.
create table vm_snapshots (
  id uuid primary key default gen_random_uuid(),
  vm_uuid uuid not null references vms(uuid) on delete cascade,
  name text not null check (char_length(name) between 1 and 64),
  description text not null default '' check (char_length(description) <= 1000),
  state text not null check (state in ('creating', 'ready', 'reverting', 'deleting')),
  includes_memory boolean not null default false,
  size_bytes bigint,
  error_message text,
  created_by uuid references users(id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index vm_snapshots_vm_name_key on vm_snapshots (vm_uuid, name);
create index vm_snapshots_vm_idx on vm_snapshots (vm_uuid, created_at);
