-- VM migration between hypervisor hosts. While a migration runs, `migrating_to` names the target
-- host: libvirt events about the VM are ignored (the source reports the guest stopped and
-- undefined when it has moved), power actions, edits and deletion are refused, and a crash leaves
-- the marker for the reconciler, which finishes or rolls back the move from what each host has.
-- Cleared in the same statement that moves `host` to the target (or on rollback).
alter table vms add column migrating_to text references hosts(name) on delete restrict;
alter table vms add constraint vms_migrating_to_other_host check (migrating_to is null or migrating_to <> host);
