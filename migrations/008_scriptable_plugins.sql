-- 008_scriptable_plugins: bind each configured interface to a loadable plugin
-- and keep its runtime state. (RustBill added script plugins here; libbill's
-- plugins are .so files, so this is the binding, secret config and health.)
--   plugin_id      the plugin's id (descriptor id), e.g. "gateway-yipay";
--                  matched with plugins(kind, plugin_id) by the loader. No FK:
--                  an interface outlives a plugin file being removed, and
--                  then reports itself unhealthy instead of vanishing.
--   secret_config  secret settings, encrypted (libsodium secretbox: nonce ||
--                  ciphertext) with the server's key; never returned in clear.
--   is_healthy / last_health_at / last_error: the latest health check.
ALTER TABLE plugin_interfaces
    ADD COLUMN plugin_id      text NOT NULL DEFAULT '',
    ADD COLUMN secret_config  bytea,
    ADD COLUMN is_healthy     boolean NOT NULL DEFAULT false,
    ADD COLUMN last_health_at timestamptz,
    ADD COLUMN last_error     text NOT NULL DEFAULT '';
CREATE INDEX plugin_interfaces_plugin_idx ON plugin_interfaces (kind, plugin_id);
