DROP TABLE notification_attachments;
DROP TABLE notifications;
DROP TABLE job_attempts;
DROP TABLE jobs;
ALTER TABLE patients DROP COLUMN email_allowed;
