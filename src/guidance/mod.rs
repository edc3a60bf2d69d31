//! Online medication guidance scheduling (オンライン服薬指導): pharmacists publish
//! weekly hours and exceptions, slots are computed from them and the sessions
//! booked, and a booking claims every 5-minute block the session (with its buffer)
//! occupies, so that a pharmacist can never hold two sessions at once — the
//! database's key refuses the second of two racing bookings.

mod booking;
pub mod conduct;
pub mod consents;
pub mod demo;
mod hours;
pub mod notify;
pub mod portal;
pub mod qualification;
pub mod records;
pub mod views;

pub use booking::{book, cancel, reschedule, BookingInput};
pub(crate) use booking::{book_checked, cancel_session, move_checked};
pub(crate) use hours::is_pharmacist;
pub use hours::{
    add_exception, current_settings, pharmacists, rules, set_hours, set_settings, slots,
    weekly_hours, ExceptionInput, HoursInput, SettingsInput,
};

use chrono::{Duration, NaiveDateTime, NaiveTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::Denied;
use crate::db::schema::guidance_sessions;
use crate::db::DbConnection;
use crate::domain::fields::FieldErrors;

/// Japan is UTC+9 all year; sessions are stored in UTC and shown in Japan time.
const JST: i64 = 9;

pub(crate) fn to_utc(local: NaiveDateTime) -> NaiveDateTime {
    local - Duration::hours(JST)
}

pub(crate) fn to_local(utc: NaiveDateTime) -> NaiveDateTime {
    utc + Duration::hours(JST)
}

/// Why a guidance operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GuidanceError {
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error("見つかりません (not found)")]
    NotFound,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("この時間は予約済みです。別の枠を選んでください (slot already taken)")]
    SlotTaken,
    #[error("この状態ではできません: {0} (not possible in this state)")]
    WrongState(String),
    /// Refused here, before asking the national services (and audited).
    #[error("{0}")]
    OutsideConsent(String),
    /// The national services answered with a refusal.
    #[error("{message} ({code})")]
    Refused { code: String, message: String },
    /// The national services could not be reached or did not answer in time.
    #[error("オンライン資格確認等システムに接続できません。時間をおいて再度お試しください ({0})")]
    Unavailable(String),
    #[error("オンライン資格確認の連携が設定されていません ([eps] request_dir is not configured)")]
    NotConfigured,
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<Denied> for GuidanceError {
    fn from(d: Denied) -> Self {
        GuidanceError::Forbidden(d)
    }
}

pub(crate) fn invalid(field: &str, m: impl Into<String>) -> GuidanceError {
    let mut f = FieldErrors::new();
    f.add(field, m);
    GuidanceError::Invalid(f)
}

pub(crate) fn time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// A session as stored (times UTC).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = guidance_sessions)]
pub struct Session {
    pub id: String,
    pub pharmacist_id: String,
    pub patient_id: String,
    pub prescription_id: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: NaiveDateTime,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: NaiveDateTime,
    pub buffer_minutes: i32,
    /// booked or cancelled
    pub status: String,
    pub booked_by: String,
    pub cancel_reason: Option<String>,
    /// When the patient confirmed the booking through the portal.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confirmed_at: Option<NaiveDateTime>,
    pub version: i32,
    /// The external meeting link the pharmacist opens (the video room comes later).
    pub meeting_url: Option<String>,
    /// How the patient was identified: known_patient, mynumber_card, driver_licence, passport, two_ids.
    pub identity_check: Option<String>,
    /// Who else was present, with their consent (e.g. 「長女（同席に同意）」).
    pub attendees: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<NaiveDateTime>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<NaiveDateTime>,
    /// completed, no_answer or connection_failed
    pub outcome: Option<String>,
    /// After a failed session: retry, reschedule or in_person.
    pub fallback: Option<String>,
    pub outcome_note: String,
    /// First-visit reasons for a pharmacist's review (麻薬/向精神薬, ≥ 8 days for a new patient); empty when none.
    pub review_reasons: String,
    pub reviewed_by: Option<String>,
    pub review_note: String,
}

impl Session {
    /// Waiting for a pharmacist's first-visit review.
    pub fn needs_review(&self) -> bool {
        !self.review_reasons.is_empty() && self.reviewed_by.is_none()
    }

    /// The guidance took place (delivery may start).
    pub fn completed(&self) -> bool {
        self.status == "booked" && self.outcome.as_deref() == Some("completed")
    }
}

pub(crate) fn load_session(
    c: &mut DbConnection,
    pharmacy_id: &str,
    id: &str,
) -> QueryResult<Session> {
    guidance_sessions::table
        .find((pharmacy_id, id))
        .select(Session::as_select())
        .first(c)
}
