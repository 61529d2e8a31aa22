DROP TABLE notification_digests;
DROP TRIGGER task_reminders_due_soon;
DROP TRIGGER task_reminders_follow_due;
DROP TABLE task_reminders;
