DROP INDEX users_search_trgm;
DROP INDEX tasks_search_trgm;
