DROP TABLE eps_messages;
DROP TABLE eps_claims;
DROP TABLE eps_prescriptions;
ALTER TABLE dispensed_items DROP COLUMN lot_expiry;
ALTER TABLE dispensed_items DROP COLUMN lot_number;
ALTER TABLE dispensed_items DROP COLUMN quantity;
ALTER TABLE dispensed_items DROP COLUMN substituted;
ALTER TABLE dispensed_items DROP COLUMN prescribed_code;
ALTER TABLE prescriptions DROP COLUMN closed_reason;
