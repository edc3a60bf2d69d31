//! The job handler that sends one notice: loads it, sends it with the configured
//! transport, and mirrors the outcome (sent, retry, failed, dead) on the notice
//! with an audit row.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::mailer::{Mailer, Outgoing, SendError};
use super::{Notification, SEND_JOB};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{notification_attachments, notifications};
use crate::db::DbConnection;
use crate::domain::audit::Outcome;
use crate::jobs::worker::{Attempted, Handler};
use crate::jobs::{Final, Job};

/// Sends notices.
pub struct SendNotice {
    pub mailer: Mailer,
}

fn notification_of(job: &Job) -> &str {
    job.subject_id.as_deref().unwrap_or_default()
}

impl Handler for SendNotice {
    fn kind(&self) -> &'static str {
        SEND_JOB
    }

    fn on_claim(&self, conn: &mut DbConnection, job: &Job, now: DateTime<Utc>) -> QueryResult<()> {
        diesel::update(notifications::table.find((&job.pharmacy_id, notification_of(job))))
            .filter(notifications::status.ne("sent"))
            .set((
                notifications::status.eq("sending"),
                notifications::attempts.eq(job.attempts),
                notifications::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        Ok(())
    }

    fn run(&self, conn: &mut DbConnection, job: &Job) -> Attempted {
        let id = notification_of(job);
        let n: Option<Notification> = match notifications::table
            .find((&job.pharmacy_id, id))
            .select(Notification::as_select())
            .first(conn)
            .optional()
        {
            Ok(n) => n,
            Err(e) => return Attempted::Temporary(format!("database: {e}")),
        };
        let Some(n) = n else {
            return Attempted::Permanent(format!("notification {id} does not exist"));
        };
        let Some(to) = n.recipient_address.clone() else {
            return Attempted::Permanent("the notice has no recipient address".into());
        };
        let attachments: Vec<(String, String, Vec<u8>)> = match notification_attachments::table
            .filter(notification_attachments::pharmacy_id.eq(&n.pharmacy_id))
            .filter(notification_attachments::notification_id.eq(&n.id))
            .order(notification_attachments::position.asc())
            .select((
                notification_attachments::filename,
                notification_attachments::content_type,
                notification_attachments::content,
            ))
            .load(conn)
        {
            Ok(a) => a,
            Err(e) => return Attempted::Temporary(format!("database: {e}")),
        };
        let out = Outgoing {
            to,
            subject: n.subject,
            text: n.body_text,
            html: n.body_html,
            message_id: n.message_id,
            attachments,
        };
        match self.mailer.send(&out) {
            Ok(reply) => Attempted::Done(reply),
            Err(SendError::Temporary(e)) => Attempted::Temporary(e),
            Err(SendError::Permanent(e)) => Attempted::Permanent(e),
        }
    }

    fn on_finish(
        &self,
        conn: &mut DbConnection,
        ctx: &Ctx,
        job: &Job,
        result: &Final,
        held: bool,
    ) -> QueryResult<()> {
        let id = notification_of(job);
        let key = (&job.pharmacy_id, id);
        let now = ctx.now.naive_utc();
        let (action, outcome, detail) = match result {
            Final::Done { detail } => {
                // Sent, whoever held the lease: count every acceptance so a resend
                // (same Message-ID) is visible.
                diesel::update(notifications::table.find(key))
                    .set((
                        notifications::status.eq("sent"),
                        notifications::send_count.eq(notifications::send_count + 1),
                        notifications::sent_at.eq(Some(now)),
                        notifications::attempts.eq(job.attempts),
                        notifications::next_attempt_at.eq(None::<chrono::NaiveDateTime>),
                        notifications::last_error.eq(None::<String>),
                        notifications::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                ("notice.sent", Outcome::Ok, detail.clone())
            }
            _ if !held => return Ok(()), // the new lease holder decides
            Final::Retry { at, error } => {
                diesel::update(notifications::table.find(key))
                    .filter(notifications::status.ne("sent"))
                    .set((
                        notifications::status.eq("pending"),
                        notifications::attempts.eq(job.attempts),
                        notifications::next_attempt_at.eq(Some(at.naive_utc())),
                        notifications::last_error.eq(Some(error)),
                        notifications::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                ("notice.retry_scheduled", Outcome::Failed, error.clone())
            }
            Final::Failed { error } | Final::Dead { error } => {
                let status = result.job_status();
                diesel::update(notifications::table.find(key))
                    .filter(notifications::status.ne("sent"))
                    .set((
                        notifications::status.eq(status),
                        notifications::attempts.eq(job.attempts),
                        notifications::next_attempt_at.eq(None::<chrono::NaiveDateTime>),
                        notifications::last_error.eq(Some(error)),
                        notifications::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                (
                    if status == "dead" {
                        "notice.dead"
                    } else {
                        "notice.failed"
                    },
                    Outcome::Failed,
                    error.clone(),
                )
            }
        };
        let mut ev = Event::ok(Some(&job.pharmacy_id), action)
            .subject("notification", id)
            .detail(format!(
                "attempt {}: {}",
                job.attempts,
                detail.chars().take(300).collect::<String>()
            ));
        ev.outcome = outcome;
        audit::record(conn, ctx, ev)
    }
}
