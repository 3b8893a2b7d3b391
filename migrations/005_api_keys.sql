-- 005_api_keys: customer API keys (downstream ApiKeyService). The key is shown
-- once; only its SHA-256 (hex) and its clear prefix are stored.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id  uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    key_prefix   text NOT NULL,
    key_hash     text NOT NULL UNIQUE,
    enabled      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_customer_idx ON api_keys (customer_id, created_at, id);
CREATE INDEX api_keys_prefix_idx ON api_keys (key_prefix);
