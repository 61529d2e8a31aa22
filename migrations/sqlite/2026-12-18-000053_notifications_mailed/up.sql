-- When a notification was e-mailed (at once, or in a daily digest): a retried e-mail job skips
-- what it already sent.
ALTER TABLE notifications ADD COLUMN emailed_at TIMESTAMP;
