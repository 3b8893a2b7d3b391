-- 019_pass_write_costs: less work for every row the billing pass writes
-- (docs/billing.md §6), with the same data, the same constraints and the same
-- results for every reader.
--
-- 1. bill_notify_payload (012) becomes STABLE, which is what jsonb_build_object
--    in its body is. PostgreSQL inlines a SQL function into the statement that
--    calls it only when the function claims no more than its body delivers;
--    declared IMMUTABLE it ran as a separate function call for every notice
--    (80,000 calls in a pass over 100,000 instances). Same arguments, same
--    payload.
CREATE OR REPLACE FUNCTION bill_notify_payload(kind text, customer_id uuid, subject text, body text,
                                               data jsonb) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT jsonb_build_object('kind', kind, 'customer_id', customer_id, 'recipient', '',
                                    'subject', subject, 'body', body, 'data', data) $$;

-- 2. Indexes that no query reads, each one more entry to write per renewal:
--  - instances_due_idx (001): the pass walks instances_billing_due_idx (012);
--    nothing else looks instances up by next_due_date.
--  - balance_transactions_type_idx (001), on (customer_id, transaction_type):
--    a customer's ledger is read in time order through
--    balance_transactions_customer_idx (customer_id, created_at, id), where
--    the type only filters. The type filter keeps its own index
--    (balance_transactions_type_created_idx).
DROP INDEX instances_due_idx;
DROP INDEX balance_transactions_type_idx;

-- 3. payments_order_idx keeps the payments of an order (order.c, and the
--    foreign key's ON DELETE SET NULL), never those without one: the balance
--    payments of renewals are most of the table.
DROP INDEX payments_order_idx;
CREATE INDEX payments_order_idx ON payments (order_id) WHERE order_id IS NOT NULL;
