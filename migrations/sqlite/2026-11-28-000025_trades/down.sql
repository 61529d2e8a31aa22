DROP TRIGGER user_products_untradeable_status;
DROP TRIGGER user_products_untradeable_delete;
DROP TABLE trade_items;
DROP TABLE trades;
DROP INDEX user_products_market;
ALTER TABLE user_products DROP COLUMN tradeable;
