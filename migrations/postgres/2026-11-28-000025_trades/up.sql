-- Trades: owners swap what they own (issue 39).
--
-- An item is offered on the market while `tradeable`. A trade holds items of both parties
-- (`trade_items.side`: what the proposer offers, what they ask of the recipient). Accepting one
-- moves every item in one transaction (see `crates/store/src/trades.rs`).
ALTER TABLE user_products ADD COLUMN tradeable BOOLEAN NOT NULL DEFAULT FALSE;
-- The market: tradeable items, newest first.
CREATE INDEX user_products_market ON user_products (created_at DESC, id DESC) WHERE tradeable;

CREATE TABLE trades (
    id           BIGSERIAL PRIMARY KEY,
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

-- An item deleted, marked sold, broken or archived, or changed by its owner into something else
-- (another product, serial or dates: what the other party agreed to is no longer what it is),
-- cancels at once every open trade that holds it: in the statement that changes the item, whoever makes it, with each trade's
-- `trade.cancelled` event in the outbox (its data `{"id", "status"}`: the trade as a whole is
-- the repository's to show). Before a deletion, so that the trade's items are still there to find.
CREATE FUNCTION trades_cancel_for_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH cancelled AS (
        UPDATE trades SET status = 'cancelled', version = version + 1, updated_at = (now() AT TIME ZONE 'UTC')
        WHERE status = 'open'
          AND id IN (SELECT trade_id FROM trade_items WHERE user_product_id = OLD.id)
        RETURNING id, proposer_id, recipient_id, updated_at
    )
    INSERT INTO outbox (event, subject_id, audience, payload, occurred_at)
    SELECT 'trade.cancelled', id, '[' || proposer_id || ',' || recipient_id || ']',
           '{"id":' || id || ',"status":"cancelled"}', updated_at
    FROM cancelled;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER user_products_untradeable_delete BEFORE DELETE ON user_products
FOR EACH ROW EXECUTE FUNCTION trades_cancel_for_item();

-- A swap moves the item (`user_id` changes): that is the trade itself, not a change under it.
CREATE TRIGGER user_products_untradeable_status
AFTER UPDATE OF status, product_id, serial_number, purchase_date, warranty_expires ON user_products
FOR EACH ROW WHEN (OLD.user_id = NEW.user_id AND (
    (NEW.status IN ('sold', 'broken', 'archived') AND OLD.status IS DISTINCT FROM NEW.status)
    OR OLD.product_id IS DISTINCT FROM NEW.product_id
    OR OLD.serial_number IS DISTINCT FROM NEW.serial_number
    OR OLD.purchase_date IS DISTINCT FROM NEW.purchase_date
    OR OLD.warranty_expires IS DISTINCT FROM NEW.warranty_expires))
EXECUTE FUNCTION trades_cancel_for_item();
