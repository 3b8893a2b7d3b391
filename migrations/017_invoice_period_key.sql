-- 017_invoice_period_key: one live invoice per instance and period, whoever
-- issues it. 012 gave renewals (the pass) and generated invoices
-- (bill_invoice_generate) a unique key each, so the two paths could bill the
-- same period of an instance twice. One key now covers both: an invoice of
-- kind manual or renewal for an instance and a period start that is not
-- cancelled. The second path gets a clear error (generate) or leaves the
-- instance alone and reports it (the pass); docs/billing.md §2.
--
-- A database that already holds such a pair stops here with the invoices
-- named: cancel the one that should not have been issued, then migrate again.
DO $$
DECLARE
    d record;
BEGIN
    SELECT a.instance_id, a.billing_period_start, a.invoice_number AS a_no,
           b.invoice_number AS b_no
      INTO d
      FROM invoices a JOIN invoices b
        ON b.instance_id = a.instance_id AND b.billing_period_start = a.billing_period_start
       AND b.id > a.id
     WHERE a.kind IN ('manual', 'renewal') AND b.kind IN ('manual', 'renewal')
       AND a.status <> 'cancelled' AND b.status <> 'cancelled'
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'instance % has two live invoices for the period from % (% and %): cancel one, then migrate again',
            d.instance_id, d.billing_period_start, d.a_no, d.b_no;
    END IF;
END $$;

DROP INDEX invoices_renewal_period_uq;
DROP INDEX invoices_generated_period_uq;
CREATE UNIQUE INDEX invoices_instance_period_uq ON invoices (instance_id, billing_period_start)
    WHERE instance_id IS NOT NULL AND kind IN ('manual', 'renewal') AND status <> 'cancelled';
