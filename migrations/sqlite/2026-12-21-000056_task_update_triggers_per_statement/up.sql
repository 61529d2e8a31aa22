-- Nothing to change here: on PostgreSQL the calendar log's and the blockers' recount triggers on
-- task updates run once per statement (see there); SQLite has no statement triggers and keeps its
-- row triggers. Both engines' migrations end at the same version, so that an archive moves
-- between them.
SELECT 1;
