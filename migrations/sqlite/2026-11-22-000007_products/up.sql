-- The public catalogue (categories and products) and what each user owns; kept in step with
-- migrations/postgres (see there for what each column means). Timestamps are UTC text, dates
-- `YYYY-MM-DD` text.

CREATE TABLE categories (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL,
    slug        TEXT    NOT NULL,
    description TEXT,
    version     BIGINT  NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CONSTRAINT categories_name_unique UNIQUE (name),
    CONSTRAINT categories_slug_unique UNIQUE (slug)
);
CREATE INDEX categories_name_key ON categories (name_key, id);

CREATE TABLE products (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT    NOT NULL,
    name_key             TEXT    NOT NULL,
    category_id          BIGINT  NOT NULL REFERENCES categories (id) ON DELETE RESTRICT,
    brand                TEXT    NOT NULL,
    brand_key            TEXT    NOT NULL,
    model                TEXT,
    description          TEXT,
    price_cents          BIGINT  CHECK (price_cents >= 0),
    currency             TEXT    CHECK (length(currency) = 3),
    warranty_months      INTEGER NOT NULL CHECK (warranty_months BETWEEN 0 AND 600),
    warranty_conditions  TEXT,
    manufacturer_website TEXT,
    specifications       TEXT    NOT NULL DEFAULT '{}',
    status               TEXT    NOT NULL CHECK (status IN ('active', 'discontinued')),
    search_text          TEXT    NOT NULL,
    version              BIGINT  NOT NULL,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL,
    CONSTRAINT products_price_has_currency CHECK (price_cents IS NULL OR currency IS NOT NULL)
);
CREATE INDEX products_name_key ON products (name_key, id);
CREATE INDEX products_category ON products (category_id, name_key);
CREATE INDEX products_brand_key ON products (brand_key, name_key);
CREATE INDEX products_status ON products (status, name_key);

CREATE TABLE user_products (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id              BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id           BIGINT  NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    serial_number        TEXT,
    purchase_date        DATE,
    purchase_price_cents BIGINT  CHECK (purchase_price_cents >= 0),
    warranty_expires     DATE,
    status               TEXT    NOT NULL CHECK (status IN ('active', 'sold', 'broken', 'archived')),
    notes                TEXT,
    version              BIGINT  NOT NULL,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL,
    CONSTRAINT user_products_serial_unique UNIQUE (user_id, product_id, serial_number)
);
CREATE INDEX user_products_owner_created ON user_products (user_id, created_at, id);
CREATE INDEX user_products_owner_warranty ON user_products (user_id, warranty_expires);
CREATE INDEX user_products_product ON user_products (product_id);
