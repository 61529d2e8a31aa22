DROP TABLE user_products;
DROP TABLE products;
DROP TABLE categories;
