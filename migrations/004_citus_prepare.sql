-- 004_citus_prepare: make every customer-owned table carry customer_id NOT NULL
-- so the schema can later be distributed by customer_id on Citus (R-DB-5).
-- 001 created invoice_items and ticket_replies without it (they reached the
-- customer only through their parent); add, backfill from the parent, enforce.

ALTER TABLE invoice_items ADD COLUMN customer_id uuid;
UPDATE invoice_items ii SET customer_id = i.customer_id
  FROM invoices i WHERE i.id = ii.invoice_id;
ALTER TABLE invoice_items ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE invoice_items ADD CONSTRAINT invoice_items_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE RESTRICT;
CREATE INDEX invoice_items_customer_idx ON invoice_items (customer_id);

ALTER TABLE ticket_replies ADD COLUMN customer_id uuid;
UPDATE ticket_replies r SET customer_id = t.customer_id
  FROM tickets t WHERE t.id = r.ticket_id;
ALTER TABLE ticket_replies ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE ticket_replies ADD CONSTRAINT ticket_replies_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE RESTRICT;
CREATE INDEX ticket_replies_customer_idx ON ticket_replies (customer_id);

-- Already NOT NULL since 001; restated so this file is the one place that
-- lists every customer-owned table.
ALTER TABLE customer_users       ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE refresh_tokens       ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE orders               ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE instances            ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE invoices             ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE payments             ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE balance_transactions ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE tickets              ALTER COLUMN customer_id SET NOT NULL;
