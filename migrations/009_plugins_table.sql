-- 009_plugins_table: the plugins found on disk by the scanner, one row per
-- (kind, plugin_id), with what their descriptor declared. file_hash (hex
-- SHA-256 of the .so) lets the scanner notice a replaced file.
CREATE TABLE plugins (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind          text NOT NULL CHECK (kind IN ('provider', 'gateway', 'notifier')),
    plugin_id     text NOT NULL CHECK (length(plugin_id) > 0),
    name          text NOT NULL DEFAULT '',
    version       text NOT NULL DEFAULT '',
    file_path     text NOT NULL,
    file_hash     text NOT NULL DEFAULT '',
    abi_version   integer NOT NULL CHECK (abi_version > 0),
    config_schema jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, plugin_id)
);
