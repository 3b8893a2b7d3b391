-- 002_operation_logs: the audit trail of every admin mutation (R-DOM-9):
-- who did what to which target, the state before and after, from where, when.
-- Rows are only ever inserted; nothing in libbill updates or deletes them.
-- actor_type 'cli' is an operator at the console (bill-cli, highest
-- privilege, no admin account): actor_name says which OS user ("cli:root").
CREATE TABLE operation_logs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    actor_type  text NOT NULL
                CHECK (actor_type IN ('admin', 'cli', 'customer', 'api_key', 'system')),
    actor_id    text NOT NULL DEFAULT '',
    actor_name  text NOT NULL DEFAULT '',
    action      text NOT NULL,           -- e.g. "customer.update", "order.refund"
    target_type text NOT NULL DEFAULT '',
    target_id   text NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb,
    source_ip   text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operation_logs_created_idx ON operation_logs (created_at, id);
CREATE INDEX operation_logs_actor_idx ON operation_logs (actor_type, actor_id, created_at);
CREATE INDEX operation_logs_target_idx ON operation_logs (target_type, target_id, created_at);
CREATE INDEX operation_logs_action_idx ON operation_logs (action, created_at);
