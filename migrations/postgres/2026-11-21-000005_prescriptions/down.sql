DROP TABLE declared_medications;
DROP TABLE dispensed_items;
DROP TABLE check_findings;
DROP TABLE prescription_items;
DROP TABLE prescriptions;
