-- Virtual machines and the ISO library.
--
-- A VM row is the desired + observed state of one libvirt domain. Its primary key IS the libvirt
-- domain UUID (the domain is named limen-<uuid>); the user-facing name is only stored here.

create table isos (
  id uuid primary key default gen_random_uuid(),
  -- validated [A-Za-z0-9._-]{1,128}.iso; also the file name inside LIMEN_ISO_DIR
  name text not null unique,
  file_name text not null unique,
  size_bytes bigint not null check (size_bytes >= 0),
  sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  created_at timestamptz not null default now()
);

create table vms (
  uuid uuid primary key,
  -- restrict: a user who owns VMs is deleted only through the VM module (?cascade=true)
  owner_id uuid not null references users(id) on delete restrict,
  name text not null check (char_length(name) between 1 and 64),
  vcpus integer not null check (vcpus > 0),
  memory_mb integer not null check (memory_mb > 0),
  disk_gb integer not null check (disk_gb > 0),
  -- restrict: an ISO attached to any VM cannot be deleted
  iso_id uuid references isos(id) on delete restrict,
  boot_order jsonb not null default '["cdrom","hd"]'::jsonb,
  host text not null default 'default',
  state text not null check (state in ('creating', 'stopped', 'starting', 'running', 'paused', 'stopping', 'deleting', 'error', 'missing')),
  desired_state text not null default 'stopped' check (desired_state in ('stopped', 'running', 'paused', 'deleted')),
  -- bumped by every state write; refreshes write with "where state_version = <read version>", so a
  -- slower refresh never overwrites a newer event
  state_version bigint not null default 1,
  error_message text,
  -- changes accepted while running that the guest sees only after its next boot
  pending_changes jsonb not null default '{}'::jsonb,
  -- chosen by the server: $LIMEN_DATA_DIR/disks/<uuid>.qcow2, never from user input
  disk_path text not null unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index vms_owner_name_key on vms (owner_id, name);
create index vms_state_idx on vms (state);
create index vms_iso_idx on vms (iso_id);
