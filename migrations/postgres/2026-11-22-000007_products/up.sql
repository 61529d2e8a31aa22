-- The public catalogue (categories and products) and what each user owns.
-- Kept in step with migrations/sqlite. Every timestamp is UTC, stored without a zone.
--
-- The `*_key` and `search_text` columns are lower-cased in Rust (every script, not only ASCII,
-- which SQLite's lower() cannot do) and compared byte-wise (COLLATE "C", SQLite's BINARY), so that
-- filters and orderings give the same answers on both engines.

CREATE TABLE categories (
    id          BIGSERIAL    PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    -- lower-cased name: the list's order
    name_key    TEXT         COLLATE "C" NOT NULL,
    slug        VARCHAR(64)  NOT NULL,
    description TEXT,
    -- starts at 1, grows by one with every change (optimistic concurrency)
    version     BIGINT       NOT NULL,
    created_at  TIMESTAMP    NOT NULL,
    updated_at  TIMESTAMP    NOT NULL,
    CONSTRAINT categories_name_unique UNIQUE (name),
    CONSTRAINT categories_slug_unique UNIQUE (slug)
);
CREATE INDEX categories_name_key ON categories (name_key, id);

CREATE TABLE products (
    id                   BIGSERIAL    PRIMARY KEY,
    name                 VARCHAR(200) NOT NULL,
    -- lower-cased name: the list's order and the quick search's prefix
    name_key             TEXT         COLLATE "C" NOT NULL,
    -- a category with products cannot be deleted
    category_id          BIGINT       NOT NULL REFERENCES categories (id) ON DELETE RESTRICT,
    brand                VARCHAR(100) NOT NULL,
    -- lower-cased brand: the `brand` filter
    brand_key            TEXT         COLLATE "C" NOT NULL,
    model                VARCHAR(100),
    description          TEXT,
    -- minor units of `currency`
    price_cents          BIGINT       CHECK (price_cents >= 0),
    -- ISO 4217 code
    currency             VARCHAR(3)   CHECK (char_length(currency) = 3),
    warranty_months      INTEGER      NOT NULL CHECK (warranty_months BETWEEN 0 AND 600),
    warranty_conditions  TEXT,
    manufacturer_website TEXT,
    -- a JSON object as the client wrote it: TEXT rather than JSONB, which would reorder its keys
    specifications       TEXT         NOT NULL DEFAULT '{}',
    status               VARCHAR(16)  NOT NULL CHECK (status IN ('active', 'discontinued')),
    -- lower-cased "name\nbrand\nmodel": the `q` filter and the quick search
    search_text          TEXT         COLLATE "C" NOT NULL,
    version              BIGINT       NOT NULL,
    created_at           TIMESTAMP    NOT NULL,
    updated_at           TIMESTAMP    NOT NULL,
    CONSTRAINT products_price_has_currency CHECK (price_cents IS NULL OR currency IS NOT NULL)
);
CREATE INDEX products_name_key ON products (name_key, id);
CREATE INDEX products_category ON products (category_id, name_key);
CREATE INDEX products_brand_key ON products (brand_key, name_key);
CREATE INDEX products_status ON products (status, name_key);

CREATE TABLE user_products (
    id                   BIGSERIAL    PRIMARY KEY,
    user_id              BIGINT       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- an owned product cannot be deleted (discontinue it instead)
    product_id           BIGINT       NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    serial_number        VARCHAR(100),
    purchase_date        DATE,
    purchase_price_cents BIGINT       CHECK (purchase_price_cents >= 0),
    -- the last day the warranty covers
    warranty_expires     DATE,
    status               VARCHAR(16)  NOT NULL CHECK (status IN ('active', 'sold', 'broken', 'archived')),
    notes                TEXT,
    version              BIGINT       NOT NULL,
    created_at           TIMESTAMP    NOT NULL,
    updated_at           TIMESTAMP    NOT NULL,
    -- a serial is unique per owner and product (items without a serial are not compared)
    CONSTRAINT user_products_serial_unique UNIQUE (user_id, product_id, serial_number)
);
CREATE INDEX user_products_owner_created ON user_products (user_id, created_at, id);
CREATE INDEX user_products_owner_warranty ON user_products (user_id, warranty_expires);
CREATE INDEX user_products_product ON user_products (product_id);
