-- Every committed change to what a VM list shows (vms rows, and hosts rows for host_reachable)
-- sends one notification on 'limen_vm_rows', at commit, including changes made by FK cascades
-- (a user or template deleted) and by other instances. The VM list cache
-- (src/modules/vms/vm-list-cache.ts) drops its pages on it. Statement-level: one notification per
-- statement, and PostgreSQL folds identical ones within a transaction.
create function limen_vm_rows_changed() returns trigger language plpgsql as $$
begin
  perform pg_notify('limen_vm_rows', '');
  return null;
end
$$;

create trigger vms_rows_changed after insert or update or delete on vms
  for each statement execute function limen_vm_rows_changed();
create trigger vms_rows_truncated after truncate on vms
  for each statement execute function limen_vm_rows_changed();
create trigger hosts_rows_changed after insert or update or delete on hosts
  for each statement execute function limen_vm_rows_changed();
create trigger hosts_rows_truncated after truncate on hosts
  for each statement execute function limen_vm_rows_changed();
