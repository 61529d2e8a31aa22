-- Trades; kept in step with migrations/postgres (see there for what each part is for).
ALTER TABLE user_products ADD COLUMN tradeable BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX user_products_market ON user_products (created_at DESC, id DESC) WHERE tradeable;

CREATE TABLE trades (
    id           INTEGER   PRIMARY KEY AUTOINCREMENT,
    parent_id    BIGINT    REFERENCES trades (id) ON DELETE SET NULL,
    proposer_id  BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient_id BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message      TEXT,
    status       TEXT      NOT NULL
        CHECK (status IN ('open', 'accepted', 'declined', 'cancelled', 'expired', 'superseded')),
    expires_at   TIMESTAMP NOT NULL,
    version      BIGINT    NOT NULL DEFAULT 1,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    CHECK (proposer_id <> recipient_id)
);
CREATE INDEX trades_proposer ON trades (proposer_id, created_at DESC, id DESC);
CREATE INDEX trades_recipient ON trades (recipient_id, created_at DESC, id DESC);
CREATE INDEX trades_open_expiry ON trades (expires_at) WHERE status = 'open';

CREATE TABLE trade_items (
    trade_id        BIGINT NOT NULL REFERENCES trades (id) ON DELETE CASCADE,
    user_product_id BIGINT NOT NULL REFERENCES user_products (id) ON DELETE CASCADE,
    side            TEXT   NOT NULL CHECK (side IN ('offered', 'requested')),
    PRIMARY KEY (trade_id, user_product_id)
);
CREATE INDEX trade_items_item ON trade_items (user_product_id, trade_id);

CREATE TRIGGER user_products_untradeable_delete BEFORE DELETE ON user_products
FOR EACH ROW BEGIN
    INSERT INTO outbox (event, subject_id, audience, payload, occurred_at)
    SELECT 'trade.cancelled', id, '[' || proposer_id || ',' || recipient_id || ']',
           '{"id":' || id || ',"status":"cancelled"}', strftime('%Y-%m-%d %H:%M:%f', 'now')
    FROM trades WHERE status = 'open' AND id IN (SELECT trade_id FROM trade_items WHERE user_product_id = OLD.id);
    UPDATE trades SET status = 'cancelled', version = version + 1, updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
    WHERE status = 'open' AND id IN (SELECT trade_id FROM trade_items WHERE user_product_id = OLD.id);
END;

CREATE TRIGGER user_products_untradeable_status
AFTER UPDATE OF status, product_id, serial_number, purchase_date, warranty_expires ON user_products
FOR EACH ROW WHEN OLD.user_id = NEW.user_id AND (
    (NEW.status IN ('sold', 'broken', 'archived') AND OLD.status IS NOT NEW.status)
    OR OLD.product_id IS NOT NEW.product_id
    OR OLD.serial_number IS NOT NEW.serial_number
    OR OLD.purchase_date IS NOT NEW.purchase_date
    OR OLD.warranty_expires IS NOT NEW.warranty_expires)
BEGIN
    INSERT INTO outbox (event, subject_id, audience, payload, occurred_at)
    SELECT 'trade.cancelled', id, '[' || proposer_id || ',' || recipient_id || ']',
           '{"id":' || id || ',"status":"cancelled"}', strftime('%Y-%m-%d %H:%M:%f', 'now')
    FROM trades WHERE status = 'open' AND id IN (SELECT trade_id FROM trade_items WHERE user_product_id = OLD.id);
    UPDATE trades SET status = 'cancelled', version = version + 1, updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
    WHERE status = 'open' AND id IN (SELECT trade_id FROM trade_items WHERE user_product_id = OLD.id);
END;
