-- 007_instance_detail_sections: custom sections of an instance's detail page
-- (GetInstanceResponse.sections), filled from the provider plugin. fields is a
-- JSON array of {"key","value","value_type"}; content_html is stored as given
-- and sanitized when served.
CREATE TABLE instance_detail_sections (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    instance_id  uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    customer_id  uuid NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    title        text NOT NULL,
    fields       jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(fields) = 'array'),
    content_html text NOT NULL DEFAULT '',
    sort_order   integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instance_detail_sections_instance_idx
    ON instance_detail_sections (instance_id, sort_order);
CREATE INDEX instance_detail_sections_customer_idx
    ON instance_detail_sections (customer_id);
