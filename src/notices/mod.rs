//! Patient and clinic notices by e-mail, through a durable outbox. A feature
//! enqueues a rendered notice in the same transaction as the change that causes
//! it; the job worker sends it. A recipient without a usable address gets a notice
//! marked `needs_manual_contact` on the staff task list instead of nothing.

pub mod handler;
pub mod mailer;
mod staff;
pub mod templates;

pub use staff::{
    attention_count, get, list, mark_contacted, resend, send_test, NoticeFilter, ATTENTION,
};

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::schema::{clinics, notification_attachments, notifications, patients, pharmacies};
use crate::db::{write_transaction, DbConnection};
use crate::domain::contact::parse_email;
use crate::jobs::{self, Attempt, NewJob};
use templates::{leaked_term, Letterhead, Rendered};

/// The job kind that sends a notice.
pub const SEND_JOB: &str = "notice.send";

/// Outbox settings derived from configuration.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// Temporary failures this long after queueing make a notice dead.
    pub dead_after: Duration,
    /// Domain of Message-IDs.
    pub domain: String,
    /// Base URL of links in notices (the patient portal).
    pub public_url: String,
}

impl OutboxConfig {
    /// The connection-test page patients are pointed to before a session.
    pub fn connection_test_url(&self) -> String {
        format!(
            "{}/portal/connection-test",
            self.public_url.trim_end_matches('/')
        )
    }
}

/// Who a notice is for.
#[derive(Debug, Clone)]
pub enum RecipientRef {
    /// A patient of the pharmacy (their address and e-mail consent are looked up).
    Patient(String),
    /// A clinic of the pharmacy's directory.
    Clinic(String),
    /// A plain address (test notices).
    Address(String),
}

/// A notice as stored.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub pharmacy_id: String,
    pub id: String,
    /// patient, clinic or address
    pub recipient_kind: String,
    pub recipient_id: Option<String>,
    pub recipient_address: Option<String>,
    pub kind: String,
    pub template: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub message_id: String,
    /// pending, sending, sent, failed, dead, needs_manual_contact or contacted
    pub status: String,
    pub attempts: i32,
    /// Times the server accepted it; more than 1 means it was sent again.
    pub send_count: i32,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<NaiveDateTime>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

/// A notice with its send history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationDetail {
    pub notification: Notification,
    pub attachments: Vec<String>,
    pub attempts: Vec<Attempt>,
}

/// Why a notice operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("通知が見つかりません (notice not found)")]
    NotFound,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("この状態の通知には実行できません (not possible while the notice is {0})")]
    WrongState(String),
    #[error("メールアドレスが正しくありません (invalid e-mail address): {0}")]
    InvalidAddress(String),
    /// Fail closed: a notice that would disclose sensitive data is not stored.
    #[error("notice would disclose sensitive data (template {template})")]
    PrivacyLeak { template: &'static str },
    #[error("{0}")]
    Render(#[from] templates::RenderError),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// The letterhead of a pharmacy (for rendering).
pub fn letterhead(conn: &mut DbConnection, pharmacy_id: &str) -> QueryResult<Letterhead> {
    let p = pharmacies::table
        .find(pharmacy_id)
        .select(crate::pharmacies::Pharmacy::as_select())
        .first(conn)?;
    Ok(Letterhead::of(&p))
}

/// Stores a rendered notice and, when the recipient can get e-mail, the job that
/// sends it. Runs inside the caller's transaction (a savepoint when nested) so a
/// rolled-back change never sends anything. `sensitive` lists terms (drug names,
/// diagnoses) the notice must not contain; if it does, nothing is stored.
pub fn enqueue(
    conn: &mut DbConnection,
    ctx: &Ctx,
    cfg: &OutboxConfig,
    pharmacy_id: &str,
    recipient: RecipientRef,
    notice: Rendered,
    sensitive: &[String],
) -> Result<Notification, NoticeError> {
    if leaked_term(&notice, sensitive).is_some() {
        return Err(NoticeError::PrivacyLeak {
            template: notice.template,
        });
    }
    write_transaction(conn, |c| {
        let (kind, recipient_id, address, manual_reason) = match &recipient {
            RecipientRef::Address(a) => {
                let addr = parse_email(a).map_err(|_| NoticeError::InvalidAddress(a.clone()))?;
                ("address", None, Some(addr), None)
            }
            RecipientRef::Patient(id) => {
                let (email, allowed): (Option<String>, bool) = patients::table
                    .find((pharmacy_id, id))
                    .select((patients::email, patients::email_allowed))
                    .first(c)
                    .optional()?
                    .ok_or(NoticeError::NotFound)?;
                let reason = match (&email, allowed) {
                    (None, _) => Some("no e-mail address"),
                    (Some(_), false) => Some("e-mail not permitted by the patient"),
                    _ => None,
                };
                ("patient", Some(id.clone()), email, reason)
            }
            RecipientRef::Clinic(id) => {
                let (email, allowed): (Option<String>, bool) = clinics::table
                    .find((pharmacy_id, id))
                    .select((clinics::email, clinics::email_allowed))
                    .first(c)
                    .optional()?
                    .ok_or(NoticeError::NotFound)?;
                let reason = match (&email, allowed) {
                    (None, _) => Some("no e-mail address"),
                    (Some(_), false) => Some("e-mail not permitted by the clinic"),
                    _ => None,
                };
                ("clinic", Some(id.clone()), email, reason)
            }
        };
        let id = uuid::Uuid::now_v7().to_string();
        let message_id = format!("<{id}@{}>", cfg.domain);
        let status = if manual_reason.is_some() {
            "needs_manual_contact"
        } else {
            "pending"
        };
        let now = ctx.now.naive_utc();
        diesel::insert_into(notifications::table)
            .values((
                notifications::pharmacy_id.eq(pharmacy_id),
                notifications::id.eq(&id),
                notifications::recipient_kind.eq(kind),
                notifications::recipient_id.eq(&recipient_id),
                notifications::recipient_address.eq(&address),
                notifications::kind.eq(notice.kind),
                notifications::template.eq(notice.template),
                notifications::subject.eq(&notice.subject),
                notifications::body_text.eq(&notice.text),
                notifications::body_html.eq(&notice.html),
                notifications::message_id.eq(&message_id),
                notifications::status.eq(status),
                notifications::attempts.eq(0),
                notifications::send_count.eq(0),
                notifications::last_error.eq(manual_reason),
                notifications::created_at.eq(now),
                notifications::updated_at.eq(now),
            ))
            .execute(c)?;
        for (i, a) in notice.attachments.iter().enumerate() {
            diesel::insert_into(notification_attachments::table)
                .values((
                    notification_attachments::pharmacy_id.eq(pharmacy_id),
                    notification_attachments::notification_id.eq(&id),
                    notification_attachments::position.eq(i as i32),
                    notification_attachments::filename.eq(&a.filename),
                    notification_attachments::content_type.eq(&a.content_type),
                    notification_attachments::content.eq(&a.content),
                ))
                .execute(c)?;
        }
        if manual_reason.is_none() {
            jobs::enqueue(
                c,
                ctx.now,
                cfg.dead_after,
                NewJob {
                    pharmacy_id,
                    kind: SEND_JOB,
                    subject_id: Some(&id),
                    payload: serde_json::json!({ "notification_id": id }),
                    run_at: ctx.now,
                },
            )?;
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "notice.enqueued")
                .subject("notification", &id)
                .detail(format!("kind={}; status={status}", notice.kind)),
        )?;
        Ok(notifications::table
            .find((pharmacy_id, &id))
            .select(Notification::as_select())
            .first(c)?)
    })
}

impl From<Denied> for NoticeError {
    fn from(d: Denied) -> Self {
        NoticeError::Forbidden(d)
    }
}
