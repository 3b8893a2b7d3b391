-- 013_event_lease: a claimed event belongs to its worker only while the
-- worker renews a short lease (issue 8, defect 8). A worker killed with
-- SIGKILL stops renewing, and its events are claimable again once
-- lease_until passes, instead of after the 600 s lock timeout; a live worker
-- keeps renewing while its handler runs, so no event runs twice at once.
-- Rows claimed before this migration (lease_until NULL) keep the old rule.
ALTER TABLE events ADD COLUMN lease_until timestamptz;
CREATE INDEX events_processing_lease_idx ON events (lease_until) WHERE status = 'processing';
