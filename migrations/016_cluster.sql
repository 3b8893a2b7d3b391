-- 016_cluster: what the instance registry of 001 lacked for running several
-- bill-servers on one database (deploy/README.md "Several instances").
--   server_instances.host/port  the address the instance serves (cluster status,
--                               which upstream of the load balancer it is)
--   server_instances.state      starting | serving | draining (a rolling restart
--                               shows the instance that is leaving)
--   leader_roles.elected_at     since when the holder has held the role
-- Heartbeats, leases and expiry read bill_now() (migration 010), so they follow
-- an injected clock like every other instant.

ALTER TABLE server_instances
    ADD COLUMN host  text    NOT NULL DEFAULT '',
    ADD COLUMN port  integer NOT NULL DEFAULT 0 CHECK (port BETWEEN 0 AND 65535),
    ADD COLUMN state text    NOT NULL DEFAULT 'starting'
               CHECK (state IN ('starting', 'serving', 'draining'));

ALTER TABLE leader_roles
    ADD COLUMN elected_at timestamptz NOT NULL DEFAULT bill_now();

CREATE INDEX leader_roles_holder_idx ON leader_roles (holder_instance_id);
