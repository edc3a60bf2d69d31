-- Conducting online guidance and keeping its record (薬剤服用歴): how a session was
-- held and ended, the patient's consents (online guidance itself; viewing of the
-- national qualification data, 居宅同意取得型, whose window follows the booking),
-- eligibility requests to the national services (receipt number, result later),
-- drug information (薬剤情報) fetched inside a consent window, and the signed,
-- append-only guidance records.

ALTER TABLE guidance_sessions ADD COLUMN meeting_url TEXT;
ALTER TABLE guidance_sessions ADD COLUMN identity_check TEXT;      -- known_patient, mynumber_card, driver_licence, passport, two_ids
ALTER TABLE guidance_sessions ADD COLUMN attendees TEXT NOT NULL DEFAULT '';
ALTER TABLE guidance_sessions ADD COLUMN started_at TIMESTAMP;
ALTER TABLE guidance_sessions ADD COLUMN ended_at TIMESTAMP;
ALTER TABLE guidance_sessions ADD COLUMN outcome TEXT;             -- completed, no_answer, connection_failed
ALTER TABLE guidance_sessions ADD COLUMN fallback TEXT;            -- retry, reschedule, in_person
ALTER TABLE guidance_sessions ADD COLUMN outcome_note TEXT NOT NULL DEFAULT '';
ALTER TABLE guidance_sessions ADD COLUMN review_reasons TEXT NOT NULL DEFAULT '';  -- first-visit flags
ALTER TABLE guidance_sessions ADD COLUMN reviewed_by TEXT;
ALTER TABLE guidance_sessions ADD COLUMN review_note TEXT NOT NULL DEFAULT '';

CREATE TABLE guidance_consents (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('online_guidance', 'qualification_viewing')),
    session_id TEXT,                      -- the booking a viewing consent follows
    text_version TEXT NOT NULL,           -- version of the explanation shown
    given_at TIMESTAMP NOT NULL,          -- UTC
    valid_until TIMESTAMP,                -- UTC; viewing: end of the guidance day (Japan)
    ended_at TIMESTAMP,
    ended_reason TEXT,
    confirmed_at TIMESTAMP,               -- seen in the national services' consented list
    recorded_by TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, id),
    FOREIGN KEY (pharmacy_id, patient_id) REFERENCES patients (pharmacy_id, id)
);
CREATE INDEX guidance_consents_patient ON guidance_consents (pharmacy_id, patient_id, kind);
CREATE INDEX guidance_consents_session ON guidance_consents (pharmacy_id, session_id);

CREATE TABLE eligibility_requests (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    consent_date DATE NOT NULL,
    visit_date DATE NOT NULL,
    receipt_number TEXT,                  -- 受付番号 given by the service
    status TEXT NOT NULL CHECK (status IN ('requested', 'received', 'failed')),
    result TEXT NOT NULL DEFAULT '',      -- JSON: the eligibility lines
    matched INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    fetched_at TIMESTAMP,
    PRIMARY KEY (pharmacy_id, id)
);

CREATE TABLE drug_information (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    fetch_id TEXT NOT NULL,               -- one fetch, many lines
    drug_code TEXT NOT NULL,
    drug_name TEXT NOT NULL,
    yj_code TEXT,
    dispensed_on DATE NOT NULL,
    days INTEGER NOT NULL,
    institution TEXT NOT NULL,
    fetched_at TIMESTAMP NOT NULL,
    fetched_by TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, id),
    FOREIGN KEY (pharmacy_id, patient_id) REFERENCES patients (pharmacy_id, id)
);
CREATE INDEX drug_information_patient ON drug_information (pharmacy_id, patient_id, dispensed_on);

CREATE TABLE guidance_records (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    subjective TEXT NOT NULL,
    objective TEXT NOT NULL,
    assessment TEXT NOT NULL,
    plan TEXT NOT NULL,
    topics TEXT NOT NULL,
    adherence TEXT NOT NULL,              -- good, partial, poor, unknown
    leftover TEXT NOT NULL,               -- 残薬
    side_effects TEXT NOT NULL,
    follow_up_on DATE,
    correction_reason TEXT,               -- versions after the first
    signed_by TEXT NOT NULL,
    signed_by_name TEXT NOT NULL,
    signed_at TIMESTAMP NOT NULL,
    retain_until DATE NOT NULL,           -- 3 years from the last entry
    PRIMARY KEY (pharmacy_id, id),
    UNIQUE (pharmacy_id, session_id, version)
);
CREATE INDEX guidance_records_patient ON guidance_records (pharmacy_id, patient_id);

-- Signed records are never changed or removed: a correction is a new version.
CREATE FUNCTION guidance_records_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'guidance_records is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER guidance_records_no_update BEFORE UPDATE ON guidance_records
    FOR EACH ROW EXECUTE FUNCTION guidance_records_append_only();
CREATE TRIGGER guidance_records_no_delete BEFORE DELETE ON guidance_records
    FOR EACH ROW EXECUTE FUNCTION guidance_records_append_only();
CREATE TRIGGER guidance_records_no_truncate BEFORE TRUNCATE ON guidance_records
    FOR EACH STATEMENT EXECUTE FUNCTION guidance_records_append_only();
