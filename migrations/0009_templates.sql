-- Templates (issue 13): read-only base images that VMs are cloned from (linked = a qcow2 overlay
-- on the base, full = an independent copy), users' SSH public keys for cloud-init, and the guest
-- addresses LIMEN last saw for a VM.

create table vm_templates (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(name) between 1 and 64),
  description text not null default '' check (char_length(description) <= 2000),
  -- who made it (its disk counts against their disk quota); set null: the template outlives them
  owner_id uuid references users(id) on delete set null,
  -- private: owner (and admins); everyone: every user; group: members of group_id (groups module)
  visibility text not null check (visibility in ('private', 'everyone', 'group')),
  group_id uuid,
  check ((visibility = 'group') = (group_id is not null)),
  source text not null check (source in ('vm', 'cloud_image')),
  -- clones get a NoCloud seed ISO (hostname, the owner's SSH keys, optional user-data)
  cloud_init boolean not null default false,
  min_vcpus integer not null default 1 check (min_vcpus > 0),
  min_memory_mb integer not null default 64 check (min_memory_mb > 0),
  min_disk_gb integer not null default 1 check (min_disk_gb > 0),
  virtual_size_bytes bigint not null default 0 check (virtual_size_bytes >= 0),
  size_bytes bigint not null default 0 check (size_bytes >= 0),
  -- disk charged to the owner's disk_gb quota (the base's virtual size, fixed at creation)
  quota_disk_gb integer not null default 0 check (quota_disk_gb >= 0),
  -- creating: the base image is being written (a crash rolls it back); ready: usable
  state text not null check (state in ('creating', 'ready')),
  -- chosen by the server: $LIMEN_DATA_DIR/templates/<id>.qcow2 (0444), never from user input
  base_path text not null unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index vm_templates_owner_name_key on vm_templates (owner_id, lower(name));
create index vm_templates_visibility_idx on vm_templates (visibility);

-- template_id: what the VM was made from (display; survives as null after the template goes).
-- backing_template_id: set for linked clones only, whose disk is an overlay on the template's
-- base image: restrict, so the database itself refuses to delete a template clones depend on.
alter table vms add column template_id uuid references vm_templates(id) on delete set null;
alter table vms add column backing_template_id uuid references vm_templates(id) on delete restrict;
alter table vms add column clone_mode text check (clone_mode in ('linked', 'full'));
-- the NoCloud seed content fixed at create time ({hostname, ssh_authorized_keys, user_data}),
-- so provisioning and crash recovery build the same ISO; null: no seed
alter table vms add column cloud_init jsonb;
-- guest addresses last reported by libvirt (DHCP lease or QEMU guest agent)
alter table vms add column ip_addresses jsonb not null default '[]'::jsonb;
alter table vms add column ip_source text check (ip_source in ('lease', 'agent'));
alter table vms add column ip_checked_at timestamptz;
create index vms_template_idx on vms (template_id);
create index vms_backing_template_idx on vms (backing_template_id);

create table user_ssh_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users(id) on delete cascade,
  name text not null check (char_length(name) between 1 and 64),
  -- normalized "<type> <base64>" (the comment is kept in name)
  public_key text not null check (char_length(public_key) <= 16384),
  fingerprint text not null,
  created_at timestamptz not null default now()
);
create unique index user_ssh_keys_user_fp_key on user_ssh_keys (user_id, fingerprint);
