-- Online medication guidance (オンライン服薬指導): per-pharmacy slot settings,
-- pharmacists' weekly hours and exceptions, booked sessions, and one claim row per
-- 5-minute block a session occupies (its key makes double booking impossible).

CREATE TABLE guidance_settings (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    slot_minutes INTEGER NOT NULL,
    buffer_minutes INTEGER NOT NULL,
    qualification_url TEXT NOT NULL,      -- マイナ在宅受付Web URL of the pharmacy
    version INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id)
);

CREATE TABLE pharmacist_hours (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),   -- ISO: 1 Monday
    start_time TEXT NOT NULL,             -- HH:MM, Japan time
    end_time TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, id)
);
CREATE INDEX pharmacist_hours_user ON pharmacist_hours (pharmacy_id, user_id);

CREATE TABLE pharmacist_exceptions (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    day DATE NOT NULL,
    closed BOOLEAN NOT NULL,
    start_time TEXT,
    end_time TEXT,
    reason TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, id)
);
CREATE INDEX pharmacist_exceptions_user ON pharmacist_exceptions (pharmacy_id, user_id, day);

CREATE TABLE guidance_sessions (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    pharmacist_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    prescription_id TEXT,
    starts_at TIMESTAMP NOT NULL,         -- UTC
    ends_at TIMESTAMP NOT NULL,
    buffer_minutes INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
    booked_by TEXT NOT NULL,
    cancel_reason TEXT,
    confirmed_at TIMESTAMP,               -- the patient confirmed through the portal
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id),
    FOREIGN KEY (pharmacy_id, patient_id) REFERENCES patients (pharmacy_id, id)
);
CREATE INDEX guidance_sessions_day ON guidance_sessions (pharmacy_id, starts_at);
CREATE INDEX guidance_sessions_pharmacist ON guidance_sessions (pharmacist_id, starts_at);

-- A pharmacist holds at most one session per 5-minute block, across pharmacies.
CREATE TABLE guidance_slot_claims (
    pharmacist_id TEXT NOT NULL,
    block_start TIMESTAMP NOT NULL,       -- UTC
    pharmacy_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (pharmacist_id, block_start)
);
CREATE INDEX guidance_slot_claims_session ON guidance_slot_claims (pharmacy_id, session_id);

-- Reminders of a session at the time it was booked for (a moved session gets new
-- rows; unsent ones of the old time are removed). Sent exactly once.
CREATE TABLE guidance_reminders (
    pharmacy_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    kind TEXT NOT NULL,                   -- week_before, day_before, soon
    starts_at TIMESTAMP NOT NULL,         -- the session time it is for (UTC)
    due_at TIMESTAMP NOT NULL,            -- UTC
    sent_at TIMESTAMP,
    notification_id TEXT,
    PRIMARY KEY (pharmacy_id, session_id, kind, starts_at)
);
CREATE INDEX guidance_reminders_due ON guidance_reminders (due_at);

-- Secrets the service makes for itself on first use (e.g. the key that signs
-- patients' portal links), shared by every instance through the database.
CREATE TABLE app_secrets (
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (name)
);

-- Patient links already used for an action: a link acts once.
CREATE TABLE portal_link_uses (
    nonce TEXT NOT NULL,
    pharmacy_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    action TEXT NOT NULL,
    used_at TIMESTAMP NOT NULL,
    PRIMARY KEY (nonce)
);
