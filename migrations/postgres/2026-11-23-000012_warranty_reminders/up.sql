-- What the warranty reminders told their owners about: one row per item and end date, so each
-- item is reminded once per end date however many daily runs see it (a changed end date is a new
-- reminder). Kept in step with migrations/sqlite.
CREATE TABLE warranty_reminders (
    user_product_id  BIGINT    NOT NULL REFERENCES user_products (id) ON DELETE CASCADE,
    warranty_expires DATE      NOT NULL,
    reminded_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (user_product_id, warranty_expires)
);
-- The reminders' search: items still owned whose warranty ends in a window.
CREATE INDEX user_products_warranty_due ON user_products (warranty_expires) WHERE status IN ('active', 'broken');
