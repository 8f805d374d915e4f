-- Hypervisor hosts: each a libvirt URI. VMs name their host (vms.host); placement picks one at
-- create. `default` is seeded here and its URI follows LIBVIRT_URI at every start.
create table hosts (
  name text primary key check (name ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
  uri text not null unique,
  -- draining: keeps its VMs, gets no new ones
  state text not null default 'active' check (state in ('active', 'draining')),
  -- capacity as libvirt last reported it (null until the host was first reached)
  cpus integer,
  memory_mb integer,
  disk_gb integer,
  -- overcommit ratios for this host; null = LIMEN_CPU_OVERCOMMIT / LIMEN_MEMORY_OVERCOMMIT
  cpu_overcommit double precision check (cpu_overcommit > 0),
  memory_overcommit double precision check (memory_overcommit > 0),
  -- the watchdog's last verdict (a VM on an unreachable host shows host_reachable: false)
  reachable boolean not null default true,
  last_seen_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

insert into hosts (name, uri) values ('default', 'qemu:///system');

-- a host is removed only when no VM row names it
alter table vms add constraint vms_host_fkey foreign key (host) references hosts(name) on delete restrict;
create index vms_host_idx on vms (host);
