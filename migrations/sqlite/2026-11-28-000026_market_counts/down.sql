DROP TRIGGER users_market_deleted;
DROP TRIGGER users_market_status;
DROP TRIGGER user_products_market_enter;
DROP TRIGGER user_products_market_leave;
DROP TRIGGER user_products_market_delete;
DROP TRIGGER user_products_market_insert;
DROP TABLE market_counts;
