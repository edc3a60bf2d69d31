-- Home deliveries, second part: the handover code (stored hashed, limited
-- attempts), a family member's or carer's receipt confirmed by the pharmacy by
-- phone, the recipient's signature, failed attempts' next attempt, the
-- temperature logger and the quarantine a pharmacist decides, the patient's
-- receipt confirmation and the follow-up it may need.

ALTER TABLE deliveries ADD COLUMN logger_serial TEXT;
ALTER TABLE deliveries ADD COLUMN logger_interval_seconds INTEGER;
-- none, quarantined, use, return, destroy
ALTER TABLE deliveries ADD COLUMN quarantine TEXT NOT NULL DEFAULT 'none';
ALTER TABLE deliveries ADD COLUMN quarantine_reason TEXT;
ALTER TABLE deliveries ADD COLUMN quarantine_decided_by TEXT;
ALTER TABLE deliveries ADD COLUMN quarantine_decided_at TIMESTAMP;
-- Controlled or refrigerated contents: an unconfirmed receipt needs a follow-up.
ALTER TABLE deliveries ADD COLUMN needs_followup BOOLEAN NOT NULL DEFAULT FALSE;

-- Who received the parcel and how (the handover code, a proxy confirmed by
-- phone, a signature), one row per delivery.
CREATE TABLE delivery_custody (
    pharmacy_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    code_hash TEXT,
    code_attempts INTEGER NOT NULL DEFAULT 0,
    code_locked BOOLEAN NOT NULL DEFAULT FALSE,
    code_used_at TIMESTAMP,
    proxy_name TEXT,
    proxy_relation TEXT,
    proxy_confirmed_by TEXT,
    received_by TEXT,
    signature TEXT,
    delivered_at TIMESTAMP,
    next_attempt_at TIMESTAMP,
    receipt_confirmed_at TIMESTAMP,
    followup_at TIMESTAMP,
    PRIMARY KEY (pharmacy_id, delivery_id),
    FOREIGN KEY (pharmacy_id, delivery_id) REFERENCES deliveries (pharmacy_id, id)
);
INSERT INTO delivery_custody (pharmacy_id, delivery_id) SELECT pharmacy_id, id FROM deliveries;

-- The product's own label range (`2-8`, 冷所 ...), when known.
ALTER TABLE delivery_items ADD COLUMN label_range TEXT;

-- Logger readings, idempotent by logger serial and time.
CREATE TABLE temperature_readings (
    pharmacy_id TEXT NOT NULL,
    logger_serial TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,   -- UTC
    celsius DOUBLE PRECISION NOT NULL,
    delivery_id TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, logger_serial, recorded_at)
);
CREATE INDEX temperature_readings_delivery ON temperature_readings (pharmacy_id, delivery_id, recorded_at);
