-- GET /api/vms answers a page of VMs oldest first (order by created_at, uuid): a user's list is
-- served straight from the first index (filter and order), an admin's from the second (no sort of
-- every row). vms_owner_name_key (owner_id, name) stays for name uniqueness.
create index vms_owner_created_idx on vms (owner_id, created_at, uuid);
create index vms_created_idx on vms (created_at, uuid);
