-- 010_clock: the database reads the same clock as libbill (billing.md §6).
-- A connection borrowed from a handle with an injected clock (tests,
-- bill-cli --now) carries the instant in the session setting bill.now;
-- without one the setting is empty and the database's own time is used.
--   bill_now()             like now(): the instant of the transaction
--   bill_clock_timestamp() like clock_timestamp(): the current instant
-- Every column that defaulted to now() / clock_timestamp() defaults to these
-- instead, so rows written "at" an injected instant say so.

CREATE FUNCTION bill_now() RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(nullif(current_setting('bill.now', true), '')::timestamptz, now()) $$;

CREATE FUNCTION bill_clock_timestamp() RETURNS timestamptz
    LANGUAGE sql VOLATILE PARALLEL SAFE
    AS $$ SELECT coalesce(nullif(current_setting('bill.now', true), '')::timestamptz,
                          clock_timestamp()) $$;

DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.table_name, c.column_name, c.column_default
          FROM information_schema.columns c
          JOIN information_schema.tables t
            ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
           AND c.column_default IN ('now()', 'clock_timestamp()')
           AND c.table_name <> 'schema_migrations'
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET DEFAULT %s', col.table_name,
                       col.column_name,
                       CASE col.column_default WHEN 'now()' THEN 'bill_now()'
                                               ELSE 'bill_clock_timestamp()' END);
    END LOOP;
END
$$;
