DROP TABLE notification_digests;
DROP TRIGGER task_reminders_due_soon ON tasks;
DROP TRIGGER task_reminders_follow_due ON tasks;
DROP FUNCTION task_reminders_follow_due();
DROP TABLE task_reminders;
