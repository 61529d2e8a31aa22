DROP TRIGGER user_products_untradeable_status ON user_products;
DROP TRIGGER user_products_untradeable_delete ON user_products;
DROP FUNCTION trades_cancel_for_item();
DROP TABLE trade_items;
DROP TABLE trades;
DROP INDEX user_products_market;
ALTER TABLE user_products DROP COLUMN tradeable;
