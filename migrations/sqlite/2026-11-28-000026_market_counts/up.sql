-- The market's total; kept in step with migrations/postgres (see there for what it holds).
CREATE TABLE market_counts (
    user_id BIGINT PRIMARY KEY,
    n       BIGINT NOT NULL
);

INSERT INTO market_counts (user_id, n)
SELECT user_id, COUNT(*) FROM user_products WHERE tradeable AND status = 'active' GROUP BY user_id;
INSERT INTO market_counts (user_id, n)
SELECT 0, COUNT(*) FROM user_products p JOIN users u ON u.id = p.user_id
WHERE p.tradeable AND p.status = 'active' AND u.status = 'active';

CREATE TRIGGER user_products_market_insert AFTER INSERT ON user_products
FOR EACH ROW WHEN NEW.tradeable AND NEW.status = 'active'
BEGIN
    INSERT INTO market_counts (user_id, n) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET n = n + 1;
    INSERT INTO market_counts (user_id, n)
    SELECT 0, 1 FROM users WHERE id = NEW.user_id AND status = 'active'
    ON CONFLICT (user_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER user_products_market_delete AFTER DELETE ON user_products
FOR EACH ROW WHEN OLD.tradeable AND OLD.status = 'active'
BEGIN
    UPDATE market_counts SET n = n - 1 WHERE user_id = OLD.user_id;
    UPDATE market_counts SET n = n - 1
    WHERE user_id = 0 AND EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id AND status = 'active');
END;

CREATE TRIGGER user_products_market_leave AFTER UPDATE OF tradeable, status, user_id ON user_products
FOR EACH ROW WHEN OLD.tradeable AND OLD.status = 'active'
    AND (NOT (NEW.tradeable AND NEW.status = 'active') OR OLD.user_id IS NOT NEW.user_id)
BEGIN
    UPDATE market_counts SET n = n - 1 WHERE user_id = OLD.user_id;
    UPDATE market_counts SET n = n - 1
    WHERE user_id = 0 AND EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id AND status = 'active');
END;

CREATE TRIGGER user_products_market_enter AFTER UPDATE OF tradeable, status, user_id ON user_products
FOR EACH ROW WHEN NEW.tradeable AND NEW.status = 'active'
    AND (NOT (OLD.tradeable AND OLD.status = 'active') OR OLD.user_id IS NOT NEW.user_id)
BEGIN
    INSERT INTO market_counts (user_id, n) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET n = n + 1;
    INSERT INTO market_counts (user_id, n)
    SELECT 0, 1 FROM users WHERE id = NEW.user_id AND status = 'active'
    ON CONFLICT (user_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER users_market_status AFTER UPDATE OF status ON users
FOR EACH ROW WHEN (OLD.status = 'active') IS NOT (NEW.status = 'active')
BEGIN
    UPDATE market_counts SET n = n + (CASE WHEN NEW.status = 'active' THEN 1 ELSE -1 END)
        * COALESCE((SELECT n FROM market_counts WHERE user_id = NEW.id), 0)
    WHERE user_id = 0;
END;

CREATE TRIGGER users_market_deleted BEFORE DELETE ON users
FOR EACH ROW WHEN OLD.status = 'active'
BEGIN
    UPDATE market_counts SET n = n - COALESCE((SELECT n FROM market_counts WHERE user_id = OLD.id), 0)
    WHERE user_id = 0;
END;
