-- Foundation: pharmacies, staff, sessions, patients, audit trail.
-- Timestamps are UTC. Tables that grow with use carry pharmacy_id in their
-- primary key so a distributed PostgreSQL can shard them by pharmacy.

CREATE TABLE pharmacies (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,            -- 薬局コード (10 digits)
    name TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    address TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    founder TEXT NOT NULL,                -- 開設者
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    totp_secret TEXT,
    totp_enabled_at TIMESTAMP,
    totp_last_step BIGINT,
    disabled_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE memberships (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('admin', 'pharmacist', 'clerk', 'courier')),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    stage TEXT NOT NULL CHECK (stage IN ('second_factor', 'enroll', 'active')),
    csrf_token TEXT NOT NULL,
    pending_totp_secret TEXT,
    client_addr TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE login_failures (
    id TEXT PRIMARY KEY NOT NULL,
    account TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_account ON login_failures (account, failed_at);
CREATE INDEX login_failures_client_addr ON login_failures (client_addr, failed_at);

CREATE TABLE patients (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    name_kanji TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    name_kana_key TEXT NOT NULL,          -- kana without spaces, for search
    birth_date DATE NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('male', 'female', 'other', 'unknown')),
    postal_code TEXT,
    address TEXT,
    phone TEXT,
    email TEXT,
    insurer_number TEXT,                  -- 保険者番号
    insured_symbol TEXT,                  -- 記号
    insured_number TEXT,                  -- 番号
    insured_branch TEXT,                  -- 枝番
    public_expenses TEXT NOT NULL,        -- 公費: JSON list of {payer, recipient}
    allergies TEXT NOT NULL,
    notes TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id)
);
CREATE INDEX patients_id ON patients (id);
CREATE INDEX patients_kana ON patients (pharmacy_id, name_kana_key);
CREATE INDEX patients_birth_date ON patients (pharmacy_id, birth_date);
CREATE INDEX patients_insurance ON patients (pharmacy_id, insured_number);

CREATE TABLE audit_events (
    chain_key TEXT NOT NULL,              -- pharmacy id, or 'system'
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    pharmacy_id TEXT,
    actor_user_id TEXT,
    actor_name TEXT,
    action TEXT NOT NULL,
    subject_type TEXT,
    subject_id TEXT,
    outcome TEXT NOT NULL,
    client_addr TEXT,
    request_id TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (chain_key, seq)
);
CREATE INDEX audit_events_occurred_at ON audit_events (chain_key, occurred_at);
CREATE INDEX audit_events_subject ON audit_events (chain_key, subject_type, subject_id);

-- The latest row of each chain: serialises appends per chain (a row lock on
-- PostgreSQL) and anchors the tail, so deleting the newest rows is detected.
CREATE TABLE audit_chain_heads (
    chain_key TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
