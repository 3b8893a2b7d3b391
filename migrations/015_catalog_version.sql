-- 015_catalog_version: one number that every change to what the public
-- catalog shows moves forward, in the writer's own transaction (issue 13).
-- bill-server's anonymous catalog cache (bill_catcache) keeps answers of
-- ListProducts, GetProduct, ListProductGroups, ListProductCategories and
-- ListGateways only while this number stays the same; every server polls
-- it, so a write by anybody (bill-cli, another server, plain SQL) is seen
-- by all of them within the poll interval.
--   products, product_prices, product_groups, product_categories: any
--     statement that writes them (statement-level: a bulk import bumps once);
--   plugin_interfaces: a row whose kind, name, enabled or is_healthy
--     changes (health checks that change nothing do not bump).
CREATE TABLE catalog_version (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL DEFAULT 1,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO catalog_version DEFAULT VALUES;

CREATE FUNCTION catalog_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_version SET version = version + 1, changed_at = now() WHERE id;
    RETURN NULL;
END $$;

CREATE TRIGGER products_catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON products FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_bump();
CREATE TRIGGER product_prices_catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON product_prices FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_bump();
CREATE TRIGGER product_groups_catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON product_groups FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_bump();
CREATE TRIGGER product_categories_catalog_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON product_categories FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_bump();

CREATE TRIGGER plugin_interfaces_catalog_version_ins AFTER INSERT OR DELETE
    ON plugin_interfaces FOR EACH ROW EXECUTE FUNCTION catalog_version_bump();
CREATE TRIGGER plugin_interfaces_catalog_version_upd AFTER UPDATE
    ON plugin_interfaces FOR EACH ROW
    WHEN (OLD.kind IS DISTINCT FROM NEW.kind OR OLD.name IS DISTINCT FROM NEW.name OR
          OLD.enabled IS DISTINCT FROM NEW.enabled OR
          OLD.is_healthy IS DISTINCT FROM NEW.is_healthy OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION catalog_version_bump();
