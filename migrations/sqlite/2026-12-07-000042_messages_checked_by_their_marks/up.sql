-- Nothing to change here: PostgreSQL drops chat_messages' foreign keys to users (see there for
-- why); SQLite keeps them, its one writer pays little for them, and dropping a constraint here
-- means copying the table.
SELECT 1;
