-- Paper prescriptions that arrive first as fax or e-mail copies (オンライン対応),
-- their attachments (content-addressed files), the prescription transcribed from a
-- copy with its original's tracking and reconciliation, requests to clinics for
-- overdue originals, and staff tasks.

-- Further addresses a clinic sends copies from (one per line, lower case).
ALTER TABLE clinics ADD COLUMN sender_addresses TEXT NOT NULL DEFAULT '';

-- 交付: when the drugs left the pharmacy (counter, or later the delivery handover).
ALTER TABLE prescriptions ADD COLUMN handed_over_at TIMESTAMP;
ALTER TABLE prescriptions ADD COLUMN handed_over_by TEXT;

CREATE TABLE prescription_copies (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'fax', 'upload')),
    status TEXT NOT NULL CHECK (status IN ('new', 'triage', 'quarantined', 'transcribed', 'dismissed')),
    reason TEXT,                          -- why triaged or quarantined
    message_id TEXT,                      -- Message-ID, for redelivery
    raw_sha256 TEXT NOT NULL,             -- the raw message (or upload) in the file store
    raw_size BIGINT NOT NULL,
    from_address TEXT,
    fax_number TEXT,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    sent_at TIMESTAMP,
    clinic_id TEXT,
    duplicate_of TEXT,                    -- another copy carrying the same file
    received_by TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    handled_by TEXT,
    handled_at TIMESTAMP,
    handled_note TEXT,
    version INTEGER NOT NULL,
    PRIMARY KEY (pharmacy_id, id)
);
CREATE UNIQUE INDEX prescription_copies_message_id ON prescription_copies (pharmacy_id, message_id)
    WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX prescription_copies_raw ON prescription_copies (pharmacy_id, raw_sha256);
CREATE INDEX prescription_copies_status ON prescription_copies (pharmacy_id, status, received_at);

CREATE TABLE copy_attachments (
    pharmacy_id TEXT NOT NULL,
    copy_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    media_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    inline BOOLEAN NOT NULL,
    PRIMARY KEY (pharmacy_id, copy_id, position),
    FOREIGN KEY (pharmacy_id, copy_id) REFERENCES prescription_copies (pharmacy_id, id)
);
CREATE INDEX copy_attachments_sha ON copy_attachments (pharmacy_id, sha256);

CREATE TABLE copy_prescriptions (
    pharmacy_id TEXT NOT NULL,
    prescription_id TEXT NOT NULL,
    copy_id TEXT NOT NULL,
    clinic_id TEXT,
    online_marked BOOLEAN NOT NULL,       -- 備考「オンライン対応」
    narcotic BOOLEAN NOT NULL,            -- handover blocked until the original
    narcotic_reason TEXT NOT NULL,
    valid_until DATE NOT NULL,
    copy_fields TEXT NOT NULL,            -- what the copy said (JSON)
    original_state TEXT NOT NULL CHECK (original_state IN ('awaiting', 'matching', 'discrepancies', 'reconciled')),
    original_fields TEXT,                 -- what the original said (JSON)
    original_received_at TIMESTAMP,
    original_received_by TEXT,
    storage_place TEXT,
    retain_until DATE,
    due_on DATE,                          -- set when dispensed
    escalate_on DATE,
    last_requested_on DATE,
    reconciled_at TIMESTAMP,
    reconciled_by TEXT,
    version INTEGER NOT NULL,
    PRIMARY KEY (pharmacy_id, prescription_id),
    FOREIGN KEY (pharmacy_id, prescription_id) REFERENCES prescriptions (pharmacy_id, id)
);
CREATE INDEX copy_prescriptions_state ON copy_prescriptions (pharmacy_id, original_state, due_on);

CREATE TABLE original_discrepancies (
    pharmacy_id TEXT NOT NULL,
    id TEXT NOT NULL,
    prescription_id TEXT NOT NULL,
    field TEXT NOT NULL,
    label TEXT NOT NULL,
    copy_value TEXT NOT NULL,
    original_value TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    clinic_contacted BOOLEAN,
    what_changed TEXT,
    patient_contact_needed BOOLEAN,
    resolved_by TEXT,
    resolved_at TIMESTAMP,
    PRIMARY KEY (pharmacy_id, id),
    FOREIGN KEY (pharmacy_id, prescription_id) REFERENCES prescriptions (pharmacy_id, id)
);
CREATE INDEX original_discrepancies_prescription ON original_discrepancies (pharmacy_id, prescription_id);

-- One request per clinic per day (the primary key makes a second one impossible).
CREATE TABLE original_requests (
    pharmacy_id TEXT NOT NULL,
    clinic_id TEXT NOT NULL,
    request_date DATE NOT NULL,
    notification_id TEXT NOT NULL,
    prescriptions TEXT NOT NULL,          -- prescription ids, one per line
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, clinic_id, request_date)
);

CREATE TABLE staff_tasks (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    title TEXT NOT NULL,
    urgent BOOLEAN NOT NULL,
    due_on DATE,
    created_at TIMESTAMP NOT NULL,
    done_at TIMESTAMP,
    done_by TEXT,
    done_note TEXT,
    PRIMARY KEY (pharmacy_id, id)
);
CREATE UNIQUE INDEX staff_tasks_subject ON staff_tasks (pharmacy_id, kind, subject_id);
CREATE INDEX staff_tasks_open ON staff_tasks (pharmacy_id, done_at);
