-- Durable jobs (outbound work with retries and leases) and the notices outbox.

ALTER TABLE patients ADD COLUMN email_allowed BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE jobs (
    pharmacy_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,                   -- e.g. 'notice.send'
    subject_id TEXT,                      -- the row the job works for (a notification id, ...)
    payload TEXT NOT NULL,                -- JSON
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'dead')),
    attempts INTEGER NOT NULL,
    run_at TIMESTAMP NOT NULL,            -- next attempt
    deadline_at TIMESTAMP NOT NULL,       -- temporary failures after this make it dead
    lease_owner TEXT,
    lease_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id)
);
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_subject ON jobs (pharmacy_id, subject_id);

CREATE TABLE job_attempts (
    pharmacy_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    worker TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    outcome TEXT NOT NULL,                -- ok, temporary, permanent, lease_lost
    detail TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, job_id, attempt)
);

CREATE TABLE notifications (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    recipient_kind TEXT NOT NULL,         -- patient, clinic, address
    recipient_id TEXT,
    recipient_address TEXT,
    kind TEXT NOT NULL,                   -- test, booking_confirmation, ...
    template TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    message_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead',
                                           'needs_manual_contact', 'contacted')),
    attempts INTEGER NOT NULL,
    send_count INTEGER NOT NULL,          -- accepted by the server; > 1 means resent
    next_attempt_at TIMESTAMP,
    last_error TEXT,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id)
);
CREATE UNIQUE INDEX notifications_message_id ON notifications (pharmacy_id, message_id);
CREATE INDEX notifications_status ON notifications (pharmacy_id, status, created_at);

CREATE TABLE notification_attachments (
    pharmacy_id TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (pharmacy_id, notification_id, position),
    FOREIGN KEY (pharmacy_id, notification_id) REFERENCES notifications (pharmacy_id, id)
);
