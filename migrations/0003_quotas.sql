-- Per-user quota overrides. A key present in `overrides` replaces the instance default for that
-- resource (JSON null = unlimited); an absent key follows the default in settings.quota_defaults.
create table user_quotas (
  user_id uuid primary key references users(id) on delete cascade,
  overrides jsonb not null default '{}'::jsonb,
  updated_at timestamptz not null default now()
);

insert into settings (key, value) values ('quota_defaults',
  '{"vms": 5, "vcpus": 8, "memory_mb": 16384, "disk_gb": 200, "snapshots": 10, "running_vms": 3, "running_vcpus": 8, "running_memory_mb": 16384}'::jsonb)
on conflict (key) do nothing;
