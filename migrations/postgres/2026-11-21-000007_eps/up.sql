-- E-prescriptions received from the national e-prescription service (電子処方箋管理
-- サービス), what was actually dispensed (lots, substitutions), claims that keep two
-- staff from accepting one 引換番号 at once, and unreadable messages kept for inspection.

ALTER TABLE prescriptions ADD COLUMN closed_reason TEXT;

ALTER TABLE dispensed_items ADD COLUMN prescribed_code TEXT;
ALTER TABLE dispensed_items ADD COLUMN substituted BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE dispensed_items ADD COLUMN quantity TEXT NOT NULL DEFAULT '';
ALTER TABLE dispensed_items ADD COLUMN lot_number TEXT;
ALTER TABLE dispensed_items ADD COLUMN lot_expiry DATE;
-- A prescription's dispensing record is read on every page and result registration.
CREATE INDEX dispensed_items_prescription ON dispensed_items (pharmacy_id, prescription_id);

CREATE TABLE eps_prescriptions (
    pharmacy_id TEXT NOT NULL,
    prescription_id TEXT NOT NULL,
    eps_id TEXT NOT NULL,                 -- 処方箋ID at the national service
    access_code TEXT NOT NULL,            -- 引換番号
    issue_type TEXT NOT NULL,             -- 1 electronic, 2 paper (控え)
    eps_status TEXT NOT NULL,             -- as the service last reported it
    state TEXT NOT NULL CHECK (state IN ('accepted', 'result_pending', 'registered',
        'registration_failed', 'acceptance_cancelled', 'rejected')),
    signature_ok BOOLEAN NOT NULL,
    signature_detail TEXT NOT NULL,       -- VerifyResultList as JSON
    valid_until DATE NOT NULL,
    refill_total INTEGER,
    refill_use INTEGER,
    narcotic BOOLEAN NOT NULL,
    payload TEXT NOT NULL,                -- the prescription CSV as received
    message_to_prescriber TEXT,           -- 伝達事項 sent with the result
    result_job_id TEXT,
    result_error TEXT,
    registered_at TIMESTAMP,
    accepted_by TEXT NOT NULL,
    accepted_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, prescription_id),
    FOREIGN KEY (pharmacy_id, prescription_id) REFERENCES prescriptions (pharmacy_id, id)
);
CREATE UNIQUE INDEX eps_prescriptions_active ON eps_prescriptions (pharmacy_id, eps_id)
    WHERE state NOT IN ('acceptance_cancelled', 'rejected');
CREATE INDEX eps_prescriptions_state ON eps_prescriptions (pharmacy_id, state);

CREATE TABLE eps_claims (
    pharmacy_id TEXT NOT NULL,
    access_code TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    claimed_at TIMESTAMP NOT NULL,
    prescription_id TEXT,                 -- set once accepted
    PRIMARY KEY (pharmacy_id, access_code)
);

CREATE TABLE eps_messages (
    pharmacy_id TEXT NOT NULL,
    id TEXT NOT NULL,
    operation TEXT NOT NULL,
    file_id TEXT NOT NULL,
    error TEXT NOT NULL,
    raw TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id)
);
