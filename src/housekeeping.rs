//! Periodic clean-up of short-lived rows: expired sessions, sign-in failures
//! older than the rate-limit window, answered idempotency keys after a day.
//! (Audit rows, notices and clinical records are never removed here.)

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::db::schema::{idempotency_keys, login_failures};
use crate::db::DbConnection;

/// What one run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub sessions: usize,
    pub login_failures: usize,
    pub idempotency_keys: usize,
}

/// Runs every clean-up once.
pub fn run(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<Removed> {
    let sessions = crate::auth::session::purge_expired(conn, now)?;
    // Failures only matter for the one-hour limits; keep a day for investigation.
    let login_failures = diesel::delete(
        login_failures::table
            .filter(login_failures::failed_at.lt((now - Duration::days(1)).naive_utc())),
    )
    .execute(conn)?;
    let idempotency_keys = diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::created_at.lt((now - Duration::days(1)).naive_utc())),
    )
    .execute(conn)?;
    Ok(Removed {
        sessions,
        login_failures,
        idempotency_keys,
    })
}
