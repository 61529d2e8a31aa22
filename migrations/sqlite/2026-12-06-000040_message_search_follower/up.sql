-- Nothing to change here: SQLite's FTS5 table of messages is kept by triggers, in the writer's
-- transaction, where it costs little (one writer, no round trips). The PostgreSQL migration of the
-- same name moves the trigram index behind the writers; this one keeps the two engines' migration
-- histories in step.
SELECT 1;
