-- Prescriptions (minimal model the intake issues fill), medication check
-- findings and their resolution, the patient's medication from every source.

CREATE TABLE prescriptions (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    source TEXT NOT NULL,                 -- manual (later: eps, copy)
    institution_name TEXT NOT NULL,
    prescriber_name TEXT NOT NULL,
    issue_date DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('checked', 'dispensed', 'cancelled')),
    rules_version TEXT NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    dispensed_at TIMESTAMP,
    version INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id),
    FOREIGN KEY (pharmacy_id, patient_id) REFERENCES patients (pharmacy_id, id)
);
CREATE INDEX prescriptions_patient ON prescriptions (pharmacy_id, patient_id, issue_date);

CREATE TABLE prescription_items (
    pharmacy_id TEXT NOT NULL,
    prescription_id TEXT NOT NULL,
    id TEXT NOT NULL,
    rp_number INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    drug_code TEXT NOT NULL,              -- as written (YJ, レセ電 or 一般名コード)
    drug_name TEXT NOT NULL,
    yj_code TEXT,                         -- resolved product, if known
    dose TEXT NOT NULL,
    usage TEXT NOT NULL,
    days INTEGER NOT NULL,
    as_needed BOOLEAN NOT NULL,
    PRIMARY KEY (pharmacy_id, prescription_id, id),
    FOREIGN KEY (pharmacy_id, prescription_id) REFERENCES prescriptions (pharmacy_id, id)
);

CREATE TABLE check_findings (
    pharmacy_id TEXT NOT NULL,
    id TEXT NOT NULL,
    prescription_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_name TEXT NOT NULL,
    other_source TEXT,
    other_id TEXT,
    other_name TEXT,
    rule TEXT NOT NULL,
    rule_source TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'inquired', 'superseded')),
    reason TEXT,
    inquiry_at TIMESTAMP,
    inquiry_method TEXT,
    inquiry_contact TEXT,
    inquiry_question TEXT,
    inquiry_answer TEXT,
    inquiry_outcome TEXT,
    resolved_by TEXT,
    resolved_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id),
    FOREIGN KEY (pharmacy_id, prescription_id) REFERENCES prescriptions (pharmacy_id, id)
);
CREATE INDEX check_findings_prescription ON check_findings (pharmacy_id, prescription_id, status);

CREATE TABLE dispensed_items (
    pharmacy_id TEXT NOT NULL,
    id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    prescription_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    drug_code TEXT NOT NULL,
    drug_name TEXT NOT NULL,
    yj_code TEXT,
    dispensed_on DATE NOT NULL,
    days INTEGER NOT NULL,
    as_needed BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id)
);
CREATE INDEX dispensed_items_patient ON dispensed_items (pharmacy_id, patient_id, dispensed_on);

CREATE TABLE declared_medications (
    pharmacy_id TEXT NOT NULL,
    id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    drug_code TEXT,
    yj_code TEXT,
    drug_name TEXT NOT NULL,
    origin TEXT NOT NULL,                 -- otc, other_pharmacy, other
    start_date DATE NOT NULL,
    days INTEGER,                         -- NULL: ongoing
    as_needed BOOLEAN NOT NULL,
    note TEXT NOT NULL,
    ended_on DATE,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id)
);
CREATE INDEX declared_medications_patient ON declared_medications (pharmacy_id, patient_id);
