DROP TRIGGER users_market_deleted ON users;
DROP FUNCTION market_count_seller_gone();
DROP TRIGGER users_market_status ON users;
DROP FUNCTION market_count_seller();
DROP TRIGGER user_products_market_update ON user_products;
DROP TRIGGER user_products_market_insert_delete ON user_products;
DROP FUNCTION market_count_item();
DROP FUNCTION market_count_add(BIGINT, BIGINT);
DROP TABLE market_counts;
