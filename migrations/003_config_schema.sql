-- 003_config_schema: plugin_interfaces.config_schema — the JSON schema the
-- plugin published for its settings, copied when the interface is configured
-- so admin UIs can render and validate the form without loading the plugin.
ALTER TABLE plugin_interfaces
    ADD COLUMN config_schema jsonb NOT NULL DEFAULT '{}'::jsonb;
