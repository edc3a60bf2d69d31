DROP TABLE staff_tasks;
DROP TABLE original_requests;
DROP TABLE original_discrepancies;
DROP TABLE copy_prescriptions;
DROP TABLE copy_attachments;
DROP TABLE prescription_copies;
ALTER TABLE prescriptions DROP COLUMN handed_over_by;
ALTER TABLE prescriptions DROP COLUMN handed_over_at;
ALTER TABLE clinics DROP COLUMN sender_addresses;
