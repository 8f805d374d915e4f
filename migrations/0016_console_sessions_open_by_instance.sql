-- The console sweeper asks, every few seconds on every instance, which of ITS open sessions an
-- admin asked to end (console_sessions.kill_requested_at), and ends stale open rows. Without an
-- index that is a scan of the whole session history, which only grows; with the embedded
-- database the scan runs on the event loop, next to every console's byte pump.
create index console_sessions_instance_open_idx on console_sessions (instance_id) where ended_at is null;
