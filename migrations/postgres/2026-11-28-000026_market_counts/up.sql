-- The market's total without a count over every item at read time (issue 39): how many items
-- each seller offers (tradeable and active), and under `user_id = 0` how many all active sellers
-- offer. A viewer's total is the second less their own. Kept by triggers in the statement that
-- changes an item or a seller's status, whoever makes it; row 0 is written by every change to the
-- market, which is rare next to reads (an offer, a sale, a swap).
CREATE TABLE market_counts (
    user_id BIGINT PRIMARY KEY,
    n       BIGINT NOT NULL
);

INSERT INTO market_counts (user_id, n)
SELECT user_id, COUNT(*) FROM user_products WHERE tradeable AND status = 'active' GROUP BY user_id;
INSERT INTO market_counts (user_id, n)
SELECT 0, COUNT(*) FROM user_products p JOIN users u ON u.id = p.user_id
WHERE p.tradeable AND p.status = 'active' AND u.status = 'active';

CREATE FUNCTION market_count_add(seller BIGINT, delta BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Row 0 first, then the seller's, in every transaction: two writers never wait on each
    -- other's counter rows in opposite orders.
    IF EXISTS (SELECT 1 FROM users WHERE id = seller AND status = 'active') THEN
        INSERT INTO market_counts (user_id, n) VALUES (0, delta)
        ON CONFLICT (user_id) DO UPDATE SET n = market_counts.n + EXCLUDED.n;
    END IF;
    INSERT INTO market_counts (user_id, n) VALUES (seller, delta)
    ON CONFLICT (user_id) DO UPDATE SET n = market_counts.n + EXCLUDED.n;
END;
$$;

CREATE FUNCTION market_count_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.tradeable AND OLD.status = 'active' THEN
        PERFORM market_count_add(OLD.user_id, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.tradeable AND NEW.status = 'active' THEN
        PERFORM market_count_add(NEW.user_id, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER user_products_market_insert_delete AFTER INSERT OR DELETE ON user_products
FOR EACH ROW EXECUTE FUNCTION market_count_item();
CREATE TRIGGER user_products_market_update AFTER UPDATE OF tradeable, status, user_id ON user_products
FOR EACH ROW WHEN ((OLD.tradeable AND OLD.status = 'active') IS DISTINCT FROM (NEW.tradeable AND NEW.status = 'active')
    OR OLD.user_id IS DISTINCT FROM NEW.user_id)
EXECUTE FUNCTION market_count_item();

-- A seller disabled (or enabled again) takes their offers out of (or back into) the market.
CREATE FUNCTION market_count_seller() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE market_counts SET n = n + (CASE WHEN NEW.status = 'active' THEN 1 ELSE -1 END)
        * COALESCE((SELECT n FROM market_counts WHERE user_id = NEW.id), 0)
    WHERE user_id = 0;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_market_status AFTER UPDATE OF status ON users
FOR EACH ROW WHEN ((OLD.status = 'active') IS DISTINCT FROM (NEW.status = 'active'))
EXECUTE FUNCTION market_count_seller();

-- A seller's account deleted: their offers leave the total before the cascade removes them (the
-- cascade's own item triggers no longer see an active seller, so they leave row 0 alone).
CREATE FUNCTION market_count_seller_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'active' THEN
        UPDATE market_counts SET n = n - COALESCE((SELECT n FROM market_counts WHERE user_id = OLD.id), 0)
        WHERE user_id = 0;
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER users_market_deleted BEFORE DELETE ON users
FOR EACH ROW EXECUTE FUNCTION market_count_seller_gone();
