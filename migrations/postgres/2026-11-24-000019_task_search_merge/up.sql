-- The outbox relay now merges the trigram index's pending list every few hundred task changes
-- (`DieselOutbox::remove`), off the request path. Batches that size cost less per task than the
-- small, frequent merges of the 128 kB list that migration 000018 set so that a writer finding the
-- list full would not wait long. Back at PostgreSQL's default (4 MB), a writer merges only when the
-- relay has fallen far behind or is not running, as on any table with a GIN index.
ALTER INDEX tasks_search_trgm RESET (gin_pending_list_limit);
