-- Clinics directory (医療機関) per pharmacy: prescribers who send copies and
-- receive requests for originals.
CREATE TABLE clinics (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    institution_code TEXT,               -- 医療機関コード (10 digits)
    phone TEXT,
    fax TEXT,
    email TEXT,
    email_allowed BOOLEAN NOT NULL,
    notes TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id)
);
CREATE INDEX clinics_name ON clinics (pharmacy_id, name);
