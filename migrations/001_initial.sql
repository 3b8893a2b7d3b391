-- 001_initial: the baseline schema — every core table with its foreign keys,
-- CHECK constraints on status columns and the indexes behind every list filter
-- of the wire contract (seed 000 §4.1).
--
-- Conventions (R-DB-4, R-DB-5):
--   * ids are uuid (gen_random_uuid(), core since PostgreSQL 13); only the
--     events queue uses bigserial because its order of insertion matters;
--   * every timestamp is timestamptz defaulting to now(); dates are `date`;
--   * money is NUMERIC(12,2) (C side: int64 cents);
--   * status-like columns carry a CHECK with their full value set;
--   * customer-owned tables carry customer_id NOT NULL (004 completes this
--     for the child tables created here without it).
--
-- Admin roles: 'admin' (everything), 'operator' (day-to-day operations:
-- customers, orders, instances, invoices, tickets; no admin-user or plugin
-- management), 'support' (tickets and read-only views).

-- ---- staff accounts -------------------------------------------------------

CREATE TABLE admin_users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 64),
    password_hash text NOT NULL,
    email         text NOT NULL DEFAULT '',
    display_name  text NOT NULL DEFAULT '',
    role          text NOT NULL DEFAULT 'operator'
                  CHECK (role IN ('admin', 'operator', 'support')),
    is_active     boolean NOT NULL DEFAULT true,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Opaque admin session tokens; only the SHA-256 of the token is stored.
CREATE TABLE admin_sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash    text NOT NULL UNIQUE,
    admin_user_id uuid NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    source_ip     text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT ''
);
CREATE INDEX admin_sessions_user_idx ON admin_sessions (admin_user_id);
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (expires_at);

-- ---- customers ------------------------------------------------------------

CREATE TABLE customers (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL,
    contact      text NOT NULL DEFAULT '',
    email        text NOT NULL DEFAULT '',
    phone        text NOT NULL DEFAULT '',
    balance      numeric(12,2) NOT NULL DEFAULT 0,
    credit_limit numeric(12,2) NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    status       text NOT NULL DEFAULT 'active'
                 CHECK (status IN ('active', 'suspended', 'closed')),
    notes        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- Last line of defence behind the locked read-check-write in the
    -- balance code: a deduction may go down to -credit_limit, never below.
    CONSTRAINT customers_balance_within_credit CHECK (balance >= -credit_limit)
);
CREATE INDEX customers_created_idx ON customers (created_at, id);
CREATE INDEX customers_status_idx ON customers (status);
CREATE INDEX customers_email_idx ON customers (lower(email));

-- Login accounts of a customer (the SPA's "customer" user_type).
CREATE TABLE customer_users (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id       uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    username          text NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 64),
    email             text NOT NULL,
    display_name      text NOT NULL DEFAULT '',
    password_hash     text NOT NULL,
    role              text NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'member')),
    is_active         boolean NOT NULL DEFAULT true,
    email_verified_at timestamptz,
    last_login_at     timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- E-mail addresses are unique regardless of case.
CREATE UNIQUE INDEX customer_users_email_lower_uq ON customer_users (lower(email));
CREATE INDEX customer_users_customer_idx ON customer_users (customer_id);

-- Rotating refresh tokens: one family per login; reuse of a used token
-- revokes the whole family.
CREATE TABLE refresh_tokens (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id      uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    customer_user_id uuid NOT NULL REFERENCES customer_users(id) ON DELETE CASCADE,
    token_hash       text NOT NULL UNIQUE,
    family_id        uuid NOT NULL,
    parent_id        uuid REFERENCES refresh_tokens(id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz,
    revoked_at       timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (customer_user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- E-mail verification codes (registration, password reset); hashed.
CREATE TABLE verification_codes (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email        text NOT NULL,
    purpose      text NOT NULL CHECK (purpose IN ('register', 'reset_password')),
    code_hash    text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    consumed_at  timestamptz,
    last_sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verification_codes_lookup_idx
    ON verification_codes (lower(email), purpose, created_at DESC);

-- ---- plugin interfaces (configured plugin instances) ------------------------
-- 003 adds config_schema, 008 the plugin binding, secret config and health.

CREATE TABLE plugin_interfaces (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind       text NOT NULL CHECK (kind IN ('provider', 'gateway', 'notifier')),
    name       text NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    config     jsonb NOT NULL DEFAULT '{}'::jsonb,  -- non-secret settings only
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, name)
);
CREATE INDEX plugin_interfaces_kind_idx ON plugin_interfaces (kind, enabled);

-- ---- catalog --------------------------------------------------------------

CREATE TABLE product_categories (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    sort_order  integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_categories_order_idx ON product_categories (sort_order, name);

CREATE TABLE product_groups (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    category_id uuid REFERENCES product_categories(id) ON DELETE RESTRICT,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    sort_order  integer NOT NULL DEFAULT 0 CHECK (sort_order >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_groups_category_idx ON product_groups (category_id, sort_order);

CREATE TABLE products (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    group_id              uuid REFERENCES product_groups(id) ON DELETE RESTRICT,
    category_id           uuid REFERENCES product_categories(id) ON DELETE RESTRICT,
    name                  text NOT NULL,
    description           text NOT NULL DEFAULT '',
    specs                 jsonb NOT NULL DEFAULT '{}'::jsonb
                          CHECK (jsonb_typeof(specs) = 'object'),
    price                 numeric(12,2) NOT NULL DEFAULT 0 CHECK (price >= 0), -- monthly/default price
    cost_price            numeric(12,2) NOT NULL DEFAULT 0 CHECK (cost_price >= 0),
    provider_interface_id uuid REFERENCES plugin_interfaces(id) ON DELETE SET NULL,
    upstream_product_id   text,
    active                boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_group_idx ON products (group_id);
CREATE INDEX products_category_idx ON products (category_id);
CREATE INDEX products_provider_idx ON products (provider_interface_id);
CREATE INDEX products_active_created_idx ON products (active, created_at, id);
CREATE INDEX products_region_idx ON products ((specs->>'region'));
-- Importing the same upstream product twice updates instead of duplicating.
CREATE UNIQUE INDEX products_upstream_uq ON products (provider_interface_id, upstream_product_id)
    WHERE upstream_product_id IS NOT NULL;

-- One price per billing cycle ("billing_cycles" map on the wire).
CREATE TABLE product_prices (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    product_id uuid NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    cycle      text NOT NULL CHECK (cycle IN ('monthly', 'quarterly', 'yearly')),
    price      numeric(12,2) NOT NULL CHECK (price >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, cycle)
);

-- ---- orders, instances ----------------------------------------------------

CREATE TABLE orders (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id           uuid NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    product_id            uuid REFERENCES products(id) ON DELETE SET NULL,
    provider_interface_id uuid REFERENCES plugin_interfaces(id) ON DELETE SET NULL,
    provider_instance_id  text NOT NULL DEFAULT '',
    server_spec           jsonb NOT NULL DEFAULT '{}'::jsonb,
    status                text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'paid', 'provisioning', 'active',
                                            'cancelled', 'suspended', 'refunded', 'completed')),
    total_amount          numeric(12,2) NOT NULL CHECK (total_amount >= 0),
    currency              text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    billing_cycle         text NOT NULL DEFAULT 'monthly'
                          CHECK (billing_cycle IN ('monthly', 'quarterly', 'yearly')),
    gateway_id            text NOT NULL DEFAULT '',
    gateway_payment_id    text NOT NULL DEFAULT '',
    notes                 text NOT NULL DEFAULT '',
    paid_at               timestamptz,
    expires_at            timestamptz,  -- unpaid orders are cancelled after this
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at, id);
CREATE INDEX orders_status_idx ON orders (status, created_at);
CREATE INDEX orders_provider_idx ON orders (provider_interface_id);
CREATE INDEX orders_gateway_idx ON orders (gateway_id);
CREATE INDEX orders_created_idx ON orders (created_at, id);
CREATE INDEX orders_pending_expiry_idx ON orders (expires_at) WHERE status = 'pending';

CREATE TABLE instances (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id           uuid NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    order_id              uuid REFERENCES orders(id) ON DELETE SET NULL,
    product_id            uuid REFERENCES products(id) ON DELETE SET NULL,
    provider_interface_id uuid REFERENCES plugin_interfaces(id) ON DELETE SET NULL,
    provider_instance_id  text NOT NULL DEFAULT '',
    status                text NOT NULL DEFAULT 'provisioning'
                          CHECK (status IN ('provisioning', 'running', 'stopped',
                                            'suspended', 'terminated', 'error')),
    ip_address            text NOT NULL DEFAULT '',
    server_spec           jsonb NOT NULL DEFAULT '{}'::jsonb,
    billing_cycle         text NOT NULL DEFAULT 'monthly'
                          CHECK (billing_cycle IN ('monthly', 'quarterly', 'yearly')),
    anchor_date           date,  -- day-of-month the cycle is anchored to
    next_due_date         date,
    suspended_at          timestamptz,
    terminated_at         timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_customer_created_idx ON instances (customer_id, created_at, id);
CREATE INDEX instances_status_idx ON instances (status);
CREATE INDEX instances_provider_idx ON instances (provider_interface_id);
CREATE INDEX instances_order_idx ON instances (order_id);
CREATE INDEX instances_due_idx ON instances (next_due_date)
    WHERE status IN ('running', 'stopped', 'suspended');

-- ---- invoices, payments, balance --------------------------------------------

CREATE TABLE invoices (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id          uuid NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    invoice_number       text NOT NULL UNIQUE,
    instance_id          uuid REFERENCES instances(id) ON DELETE SET NULL,
    billing_period_start date,
    billing_period_end   date,
    amount               numeric(12,2) NOT NULL DEFAULT 0 CHECK (amount >= 0),
    tax_amount           numeric(12,2) NOT NULL DEFAULT 0 CHECK (tax_amount >= 0),
    total_amount         numeric(12,2) NOT NULL DEFAULT 0 CHECK (total_amount >= 0),
    paid_amount          numeric(12,2) NOT NULL DEFAULT 0 CHECK (paid_amount >= 0),
    status               text NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft', 'issued', 'paid', 'overdue', 'cancelled')),
    issued_at            timestamptz,
    paid_at              timestamptz,
    due_date             date,
    notes                text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (billing_period_end IS NULL OR billing_period_start IS NULL
           OR billing_period_end >= billing_period_start),
    -- One invoice per instance and period keeps billing runs idempotent
    -- (NULL instance_id = manual invoice, not constrained).
    UNIQUE (instance_id, billing_period_start)
);
CREATE INDEX invoices_customer_created_idx ON invoices (customer_id, created_at, id);
CREATE INDEX invoices_status_idx ON invoices (status, due_date);
CREATE INDEX invoices_created_idx ON invoices (created_at, id);

CREATE TABLE invoice_items (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_id  uuid NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    description text NOT NULL,
    quantity    integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
    unit_price  numeric(12,2) NOT NULL,
    amount      numeric(12,2) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_items_invoice_idx ON invoice_items (invoice_id);

-- Gapless invoice numbers: the row of the year is locked (UPDATE ... RETURNING)
-- in the transaction that inserts the invoice, so a rollback leaves no hole.
CREATE TABLE invoice_number_counters (
    year       integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 9999),
    last_value bigint NOT NULL DEFAULT 0 CHECK (last_value >= 0)
);

CREATE TABLE payments (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id        uuid NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    order_id           uuid REFERENCES orders(id) ON DELETE SET NULL,
    invoice_id         uuid REFERENCES invoices(id) ON DELETE SET NULL,
    amount             numeric(12,2) NOT NULL CHECK (amount >= 0),
    currency           text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    gateway_id         text NOT NULL DEFAULT '',
    gateway_payment_id text,
    gateway_tx_id      text,
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'succeeded', 'failed',
                                         'refunded', 'partially_refunded')),
    refunded_amount    numeric(12,2) NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    paid_at            timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (refunded_amount <= amount)
);
-- A gateway callback finds its payment by (gateway, payment id); at most one.
CREATE UNIQUE INDEX payments_gateway_payment_uq ON payments (gateway_id, gateway_payment_id)
    WHERE gateway_payment_id IS NOT NULL;
CREATE INDEX payments_customer_created_idx ON payments (customer_id, created_at, id);
CREATE INDEX payments_order_idx ON payments (order_id);
CREATE INDEX payments_invoice_idx ON payments (invoice_id);
CREATE INDEX payments_status_idx ON payments (status);
CREATE INDEX payments_gateway_idx ON payments (gateway_id, created_at);

-- The balance ledger (R-DOM-3): written in the transaction that locks the
-- customer row; balance = sum(amount), rows chain before -> after.
CREATE TABLE balance_transactions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id      uuid NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    amount           numeric(12,2) NOT NULL,
    balance_before   numeric(12,2) NOT NULL,
    balance_after    numeric(12,2) NOT NULL,
    transaction_type text NOT NULL
                     CHECK (transaction_type IN ('recharge', 'deduct', 'payment',
                                                 'refund', 'adjustment')),
    reference_id     text NOT NULL DEFAULT '',
    description      text NOT NULL DEFAULT '',
    created_by       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (balance_after = balance_before + amount)
);
CREATE INDEX balance_transactions_customer_idx
    ON balance_transactions (customer_id, created_at, id);
CREATE INDEX balance_transactions_type_idx
    ON balance_transactions (customer_id, transaction_type);
-- ListBalanceTransactions may filter by type alone (staff, all customers).
CREATE INDEX balance_transactions_type_created_idx
    ON balance_transactions (transaction_type, created_at);

-- ---- tickets --------------------------------------------------------------

CREATE TABLE tickets (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id      uuid NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    title            text NOT NULL CHECK (length(title) > 0),
    description      text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'resolved', 'closed')),
    priority         text NOT NULL DEFAULT 'normal'
                     CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    assignee_user_id uuid REFERENCES admin_users(id) ON DELETE SET NULL,
    creator_user_id  text NOT NULL DEFAULT '',  -- a customer user's or an admin's id
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_customer_created_idx ON tickets (customer_id, created_at, id);
CREATE INDEX tickets_status_idx ON tickets (status, priority);
CREATE INDEX tickets_priority_idx ON tickets (priority, created_at);
CREATE INDEX tickets_assignee_idx ON tickets (assignee_user_id);
CREATE INDEX tickets_created_idx ON tickets (created_at, id);

CREATE TABLE ticket_replies (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id   uuid NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id     text NOT NULL DEFAULT '',
    author_type text NOT NULL CHECK (author_type IN ('admin', 'customer')),
    content     text NOT NULL CHECK (length(content) > 0),
    is_internal boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Customers never write internal notes.
    CHECK (NOT (is_internal AND author_type = 'customer'))
);
CREATE INDEX ticket_replies_ticket_idx ON ticket_replies (ticket_id, created_at, id);

-- ---- events, cluster ------------------------------------------------------

-- Durable work queue; workers claim rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE events (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'done', 'dead')),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts > 0),
    run_after    timestamptz NOT NULL DEFAULT now(),
    locked_by    text,
    locked_at    timestamptz,
    last_error   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_status_run_idx ON events (status, run_after);
CREATE INDEX events_kind_idx ON events (kind, created_at);

-- Running server processes and their heartbeats.
CREATE TABLE server_instances (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    version      text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX server_instances_heartbeat_idx ON server_instances (heartbeat_at);

-- Leader roles (migration, events, billing, ...): a lease per role. The role
-- names are an open set (each subsystem brings its own), so the CHECK only
-- keeps them identifier-like; the holder is a registered server instance, and a deregistered instance frees
-- its roles.
CREATE TABLE leader_roles (
    role               text PRIMARY KEY CHECK (role ~ '^[a-z][a-z0-9_.-]*$'),
    holder_instance_id uuid REFERENCES server_instances(id) ON DELETE SET NULL,
    lease_until        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
