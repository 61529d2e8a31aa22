DROP TABLE follows;
DROP TABLE notification_preferences;
DROP TABLE notification_inboxes;
DROP TABLE notifications;
