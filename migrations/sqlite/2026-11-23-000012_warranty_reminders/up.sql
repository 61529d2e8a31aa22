-- What the warranty reminders told their owners about; kept in step with migrations/postgres.
CREATE TABLE warranty_reminders (
    user_product_id  BIGINT    NOT NULL REFERENCES user_products (id) ON DELETE CASCADE,
    warranty_expires DATE      NOT NULL,
    reminded_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (user_product_id, warranty_expires)
);
-- SQLite uses it when the query repeats the predicate: the store spells it exactly so.
CREATE INDEX user_products_warranty_due ON user_products (warranty_expires) WHERE status IN ('active', 'broken');
