-- 006_customer_api_key_flag: only customers with this flag may create API
-- keys (PERMISSION_DENIED otherwise); off by default.
ALTER TABLE customers
    ADD COLUMN can_create_api_keys boolean NOT NULL DEFAULT false;
