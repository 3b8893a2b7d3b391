-- 018_deferrable_invoice_fks: the billing pass writes a batch's invoice lines,
-- payments and paid periods before the invoices themselves, so that the
-- invoice numbers (one counter row per year, locked until commit) are taken by
-- the batch's last statement and held for milliseconds, not for the whole
-- batch: batches on two connections then overlap (docs/billing.md §6). The
-- three foreign keys to invoices become DEFERRABLE; they stay INITIALLY
-- IMMEDIATE, so every other writer is checked exactly as before, and only a
-- transaction that asks (SET CONSTRAINTS … DEFERRED) has them checked at its
-- commit instead. Nothing else changes: same columns, same actions.
ALTER TABLE invoice_items ALTER CONSTRAINT invoice_items_invoice_id_fkey
    DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE payments ALTER CONSTRAINT payments_invoice_id_fkey
    DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE instance_periods ALTER CONSTRAINT instance_periods_invoice_id_fkey
    DEFERRABLE INITIALLY IMMEDIATE;
