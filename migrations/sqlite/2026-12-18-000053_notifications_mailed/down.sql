ALTER TABLE notifications DROP COLUMN emailed_at;
