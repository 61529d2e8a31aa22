-- Substring search (`q`, `GET /search`) over tasks through trigram indexes, so that it does not
-- scan every task as their number grows. pg_trgm is a trusted extension (PostgreSQL 13+): the
-- database's owner may install it without being a superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX tasks_search_trgm ON tasks USING gin (search_text gin_trgm_ops);
CREATE INDEX users_search_trgm ON users USING gin (search_text gin_trgm_ops);
