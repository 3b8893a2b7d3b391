-- 014_frontend_vocabulary: the values RustBill's real web front end uses
-- where they differ from what was stored (issue 8; docs/api-compat.md).
--   payments.status           succeeded -> success; partially_refunded ->
--                             refunded (refunded_amount keeps how much)
--   orders.status             gains terminated (its instance was terminated)
--   tickets.priority          normal -> medium, default medium
--   verification_codes.purpose register -> registration (a code sent just
--                             before the upgrade no longer matches: the
--                             purpose is part of its hash; asking again works)
-- The CHECK constraints of 001 were unnamed, so they are found by what they
-- allow and replaced by named ones.
DO $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT conrelid::regclass::text AS tbl, conname FROM pg_constraint
        WHERE contype = 'c' AND (
            (conrelid = 'payments'::regclass AND pg_get_constraintdef(oid) LIKE '%''succeeded''%') OR
            (conrelid = 'orders'::regclass AND pg_get_constraintdef(oid) LIKE '%''completed''%') OR
            (conrelid = 'tickets'::regclass AND pg_get_constraintdef(oid) LIKE '%''normal''%') OR
            (conrelid = 'verification_codes'::regclass AND
             pg_get_constraintdef(oid) LIKE '%''register''%'))
    LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.tbl, r.conname);
    END LOOP;
END $$;

UPDATE payments SET status = 'success' WHERE status = 'succeeded';
UPDATE payments SET status = 'refunded' WHERE status = 'partially_refunded';
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'success', 'failed', 'refunded'));

ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'paid', 'provisioning', 'active', 'cancelled', 'suspended',
                      'refunded', 'completed', 'terminated'));

UPDATE tickets SET priority = 'medium' WHERE priority = 'normal';
ALTER TABLE tickets ALTER COLUMN priority SET DEFAULT 'medium';
ALTER TABLE tickets ADD CONSTRAINT tickets_priority_check
    CHECK (priority IN ('low', 'medium', 'high', 'urgent'));

UPDATE verification_codes SET purpose = 'registration' WHERE purpose = 'register';
ALTER TABLE verification_codes ADD CONSTRAINT verification_codes_purpose_check
    CHECK (purpose IN ('registration', 'reset_password'));
