-- 012_billing: the recurring billing engine (docs/billing.md,
-- shared spec billing.md). Designed once for renewals, dunning, plan and
-- cycle changes, cancellation and credit notes.
--
-- Dates are UTC calendar dates; periods are half-open [start, end).

-- ---- instances: where each one stands in its cycle -------------------------
--   billing_cycle, anchor_date, next_due_date exist since 001:
--   anchor_date          UTC date of the first payment; period k starts at
--                        anchor + k x cycle months (day clamped), always
--                        counted from the anchor
--   next_due_date        start of the first unpaid period
--   current_period_start start of the paid period that ends at next_due_date
--   cancel_at_period_end no more renewals; the pass terminates the instance
--                        at 00:00:00Z of next_due_date
ALTER TABLE instances
    ADD COLUMN current_period_start date,
    ADD COLUMN cancel_at_period_end boolean NOT NULL DEFAULT false,
    ADD COLUMN cancel_requested_at  timestamptz,
    ADD CONSTRAINT instances_period_order
        CHECK (current_period_start IS NULL OR next_due_date IS NULL
               OR current_period_start < next_due_date);
-- The pass looks up billable instances by due date, in creation order.
CREATE INDEX instances_billing_due_idx ON instances (next_due_date, created_at, id)
    WHERE status IN ('running', 'stopped') AND next_due_date IS NOT NULL;
CREATE INDEX instances_cancel_end_idx ON instances (next_due_date)
    WHERE cancel_at_period_end AND status <> 'terminated';

-- ---- invoices: kind, what they bill, dunning bookkeeping ----------------------
--   kind            manual (bill_invoice_create / generate), order (never
--                   written by the engine today: orders are paid as orders;
--                   reserved for invoicing an order), renewal (the pass),
--                   upgrade (a plan change with a positive net), cycle_change
--                   (a cycle change with a positive net)
--   product_id, billing_cycle  what the invoice bills (renewal / change)
--   order_id        the order an 'order' invoice bills
--   autopay_failed_at          first pass that could not pay it from the
--                              balance (the "payment failed" notice went out)
ALTER TABLE invoices
    ADD COLUMN kind text NOT NULL DEFAULT 'manual'
        CHECK (kind IN ('manual', 'order', 'renewal', 'upgrade', 'cycle_change')),
    ADD COLUMN product_id uuid REFERENCES products(id) ON DELETE SET NULL,
    ADD COLUMN billing_cycle text
        CHECK (billing_cycle IN ('monthly', 'quarterly', 'yearly')),
    ADD COLUMN order_id uuid REFERENCES orders(id) ON DELETE SET NULL,
    ADD COLUMN autopay_failed_at timestamptz;

-- 001's UNIQUE (instance_id, billing_period_start) covered every invoice of
-- an instance, which a plan change on the first day of a period would hit.
-- Split it: one live renewal per instance and period (the key that makes a
-- double pass impossible in the database), and one generated invoice per
-- instance and period for bill_invoice_generate. A cancelled renewal frees
-- its period (an invoice cancelled by hand can be issued again).
ALTER TABLE invoices DROP CONSTRAINT invoices_instance_id_billing_period_start_key;
CREATE UNIQUE INDEX invoices_renewal_period_uq ON invoices (instance_id, billing_period_start)
    WHERE kind = 'renewal' AND status <> 'cancelled';
CREATE UNIQUE INDEX invoices_generated_period_uq ON invoices (instance_id, billing_period_start)
    WHERE kind = 'manual' AND instance_id IS NOT NULL;
-- Open renewals, oldest due first (auto-pay retries and dunning).
CREATE INDEX invoices_open_renewal_idx ON invoices (due_date, instance_id)
    WHERE kind = 'renewal' AND status IN ('issued', 'overdue');
CREATE INDEX invoices_instance_idx ON invoices (instance_id, billing_period_start);
-- bill_invoice_mark_overdue / the pass: issued invoices past due.
CREATE INDEX invoices_issued_due_idx ON invoices (due_date) WHERE status = 'issued';

-- ---- invoice lines: what each amount is and why ------------------------------
--   kind            renewal (a whole period), charge (prorated new plan),
--                   credit (prorated unused old plan, negative), manual
--   period_start/end          the segment the line covers
--   proration_days / period_days   r and L of billing.md §5 (NULL: not prorated)
--   basis           the amount the fraction applies to (what was paid for
--                   the period, or the new price)
--   why             "16/31 days of 10.00"
ALTER TABLE invoice_items
    ADD COLUMN kind text NOT NULL DEFAULT 'manual'
        CHECK (kind IN ('manual', 'renewal', 'charge', 'credit')),
    ADD COLUMN period_start date,
    ADD COLUMN period_end date,
    ADD COLUMN proration_days integer CHECK (proration_days >= 0),
    ADD COLUMN period_days integer CHECK (period_days > 0),
    ADD COLUMN basis numeric(12,2),
    ADD COLUMN why text NOT NULL DEFAULT '',
    ADD COLUMN line_no integer NOT NULL DEFAULT 0;

-- ---- paid periods: what was paid for each period of an instance ----------------
-- The basis of every proration (billing.md §5: what the customer actually
-- paid, not today's price). One row per period an instance has paid for:
-- the first from its order, then one per paid renewal. A plan change keeps
-- the row and sets `basis` to the new plan's price (what the rest of the
-- period is now paid at); a cycle change or immediate cancellation closes
-- the rows it credits (status credited) and a cycle change opens the new
-- period.
CREATE TABLE instance_periods (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    instance_id   uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    customer_id   uuid NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    basis         numeric(12,2) NOT NULL CHECK (basis >= 0),
    product_id    uuid REFERENCES products(id) ON DELETE SET NULL,
    billing_cycle text NOT NULL CHECK (billing_cycle IN ('monthly', 'quarterly', 'yearly')),
    source        text NOT NULL CHECK (source IN ('order', 'renewal', 'cycle_change', 'backfill')),
    order_id      uuid REFERENCES orders(id) ON DELETE SET NULL,
    invoice_id    uuid REFERENCES invoices(id) ON DELETE SET NULL,
    status        text NOT NULL DEFAULT 'paid' CHECK (status IN ('paid', 'credited')),
    created_at    timestamptz NOT NULL DEFAULT bill_now(),
    updated_at    timestamptz NOT NULL DEFAULT bill_now(),
    CHECK (period_end > period_start)
);
CREATE UNIQUE INDEX instance_periods_live_uq ON instance_periods (instance_id, period_start)
    WHERE status = 'paid';
CREATE INDEX instance_periods_instance_idx ON instance_periods (instance_id, period_start);
CREATE INDEX instance_periods_customer_idx ON instance_periods (customer_id);

-- ---- credit notes ---------------------------------------------------------------
-- A negative net of a plan change, cycle change or immediate cancellation:
-- numbered CN-<year>-<6 digits>, gapless per year like invoices, with the
-- same lines, and the ledger row (adjustment / refund) that credited it.
CREATE TABLE credit_notes (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id       uuid NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    instance_id       uuid REFERENCES instances(id) ON DELETE SET NULL,
    credit_number     text NOT NULL UNIQUE,
    kind              text NOT NULL
                      CHECK (kind IN ('downgrade', 'cycle_change', 'cancellation')),
    amount            numeric(12,2) NOT NULL CHECK (amount > 0), -- credited to the balance
    currency          text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    balance_tx_id     uuid REFERENCES balance_transactions(id) ON DELETE SET NULL,
    reason            text NOT NULL DEFAULT '',
    issued_at         timestamptz NOT NULL DEFAULT bill_now(),
    created_at        timestamptz NOT NULL DEFAULT bill_now()
);
CREATE INDEX credit_notes_customer_idx ON credit_notes (customer_id, issued_at, id);
CREATE INDEX credit_notes_instance_idx ON credit_notes (instance_id);

CREATE TABLE credit_note_lines (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    credit_note_id uuid NOT NULL REFERENCES credit_notes(id) ON DELETE CASCADE,
    customer_id    uuid NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    line_no        integer NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('charge', 'credit')),
    description    text NOT NULL,
    amount         numeric(12,2) NOT NULL,   -- signed: credits negative
    period_start   date,
    period_end     date,
    proration_days integer CHECK (proration_days >= 0),
    period_days    integer CHECK (period_days > 0),
    basis          numeric(12,2),
    why            text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT bill_now()
);
CREATE INDEX credit_note_lines_note_idx ON credit_note_lines (credit_note_id, line_no);
CREATE INDEX credit_note_lines_customer_idx ON credit_note_lines (customer_id);

CREATE TABLE credit_note_number_counters (
    year       integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 9999),
    last_value bigint NOT NULL DEFAULT 0 CHECK (last_value >= 0)
);

-- ---- provider actions -------------------------------------------------------------
-- Queued as durable events of kind 'provider.action' ({"instance_id",
-- "action", ...}) in the transaction of the state change; instances without
-- a provider get the same row already 'done'. This index finds an
-- instance's actions.
CREATE INDEX events_provider_action_idx ON events ((payload->>'instance_id'), id)
    WHERE kind = 'provider.action';

-- ---- backfill -----------------------------------------------------------------------
-- Instances of paid orders take their anchor from the order's payment. The
-- engine does not bill retroactively: next_due_date is the first anniversary
-- on or after the day this migration runs (at least one cycle after the
-- anchor), and that period's paid basis is the order's amount.
UPDATE instances i
   SET anchor_date = (o.paid_at AT TIME ZONE 'UTC')::date
  FROM orders o
 WHERE o.id = i.order_id AND o.paid_at IS NOT NULL AND i.anchor_date IS NULL;

WITH m AS (
    SELECT i.id, i.anchor_date,
           CASE i.billing_cycle WHEN 'monthly' THEN 1 WHEN 'quarterly' THEN 3 ELSE 12 END AS months,
           (bill_now() AT TIME ZONE 'UTC')::date AS today
      FROM instances i
     WHERE i.anchor_date IS NOT NULL AND i.next_due_date IS NULL
), k AS (
    -- the smallest k >= 1 with anchor + k cycles >= today; the estimate from
    -- the month difference is off by at most one either way
    SELECT m.id, m.anchor_date, m.months,
           (SELECT min(kk) FROM generate_series(
                greatest(1, ((extract(year FROM m.today) - extract(year FROM m.anchor_date)) * 12
                             + extract(month FROM m.today) - extract(month FROM m.anchor_date))::int
                            / m.months - 1),
                greatest(1, ((extract(year FROM m.today) - extract(year FROM m.anchor_date)) * 12
                             + extract(month FROM m.today) - extract(month FROM m.anchor_date))::int
                            / m.months + 2)) AS kk
             WHERE (m.anchor_date + make_interval(months => kk * m.months))::date >= m.today) AS k
      FROM m
)
UPDATE instances i
   SET next_due_date = (k.anchor_date + make_interval(months => k.k * k.months))::date,
       current_period_start = (k.anchor_date + make_interval(months => (k.k - 1) * k.months))::date
  FROM k
 WHERE k.id = i.id;

INSERT INTO instance_periods (instance_id, customer_id, period_start, period_end, basis,
                              product_id, billing_cycle, source, order_id)
SELECT i.id, i.customer_id, i.current_period_start, i.next_due_date, o.total_amount,
       i.product_id, i.billing_cycle, 'backfill', o.id
  FROM instances i JOIN orders o ON o.id = i.order_id
 WHERE i.current_period_start IS NOT NULL AND i.next_due_date IS NOT NULL;

-- ---- helpers the engine's set-based SQL shares ----------------------------------------
CREATE FUNCTION bill_cycle_months(cycle text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE cycle WHEN 'monthly' THEN 1 WHEN 'quarterly' THEN 3
                            WHEN 'yearly' THEN 12 END $$;

-- End of the period that starts at `start` (= anchor + k cycles): anchor +
-- (k + 1) cycles, the day clamped to the month's length. Always from the
-- anchor (Jan 31 -> Feb 28 -> Mar 31, never -> Mar 28).
CREATE FUNCTION bill_period_end(anchor date, start date, cycle text) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (anchor + make_interval(months =>
                    ((extract(year FROM start) - extract(year FROM anchor)) * 12
                     + extract(month FROM start) - extract(month FROM anchor))::int
                    + bill_cycle_months(cycle)))::date $$;

-- The payload of a "notify" event (provision.c sends it to every notifier).
CREATE FUNCTION bill_notify_payload(kind text, customer_id uuid, subject text, body text,
                                    data jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT jsonb_build_object('kind', kind, 'customer_id', customer_id, 'recipient', '',
                                    'subject', subject, 'body', body, 'data', data) $$;
