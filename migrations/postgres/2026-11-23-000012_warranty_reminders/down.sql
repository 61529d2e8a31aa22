DROP INDEX user_products_warranty_due;
DROP TABLE warranty_reminders;
