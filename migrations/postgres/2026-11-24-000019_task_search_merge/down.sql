ALTER INDEX tasks_search_trgm SET (gin_pending_list_limit = 128);
