-- A message's sender and recipient are no longer foreign keys of chat_messages on PostgreSQL. Each
-- checked every message against users through a query of its own (`FOR KEY SHARE`, which also
-- writes a lock on the user's row): 15 % of a batch of five messages' time in PostgreSQL, measured. The same statement already writes the sender's and the recipient's read marks
-- (chat_reads), whose user_id and partner_id are foreign keys: a message to or from a user who is
-- gone, or going, fails there (a mark's row being deleted makes the statement wait, then insert and
-- fail), so no message is stored for a missing user. Deleting a user deletes their messages in the
-- same transaction, after the user (see the users store), instead of by cascade. A room's messages
-- still go with their room by cascade (room_id stays a foreign key: it is NULL, and unchecked, on a
-- direct message). SQLite keeps its foreign keys: one writer, and dropping a constraint there means
-- copying the table.
ALTER TABLE chat_messages DROP CONSTRAINT chat_messages_sender_id_fkey;
ALTER TABLE chat_messages DROP CONSTRAINT chat_messages_recipient_id_fkey;
