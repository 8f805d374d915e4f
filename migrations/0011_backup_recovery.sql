-- What a running backup must undo if its process dies (SIGKILL, power loss): the partial archive
-- and work dir it is writing, and the VM it paused for a consistent disk copy. Written before each
-- of those exists, cleared when done; the next start of LIMEN undoes what a dead backup left.
alter table backups add column recovery jsonb not null default '{}'::jsonb;
