//! What staff do with notices: list and read them (audited), resend failed or
//! dead ones, record a manual contact, queue the test notice.

use diesel::prelude::*;

use super::{
    enqueue, letterhead, templates, NoticeError, Notification, NotificationDetail, OutboxConfig,
    RecipientRef, SEND_JOB,
};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{notification_attachments, notifications};
use crate::db::{write_transaction, DbConnection};
use crate::domain::role::Permission;
use crate::jobs::{self, NewJob};

/// Filters for the notice list.
#[derive(Debug, Clone, Default)]
pub struct NoticeFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Only those needing staff: needs_manual_contact, failed, dead.
    pub needs_attention: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Statuses that need a person.
pub const ATTENTION: [&str; 3] = ["needs_manual_contact", "failed", "dead"];

/// Lists a pharmacy's notices, newest first (audited: they name patients' addresses).
pub fn list(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    f: &NoticeFilter,
) -> Result<Vec<Notification>, NoticeError> {
    crate::authz::require::<NoticeError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "notice.listed",
        None,
    )?;
    let mut q = notifications::table
        .filter(notifications::pharmacy_id.eq(pharmacy_id))
        .select(Notification::as_select())
        .order(notifications::created_at.desc())
        .limit(f.limit.clamp(1, 500))
        .offset(f.offset.max(0))
        .into_boxed();
    if let Some(s) = &f.status {
        q = q.filter(notifications::status.eq(s.clone()));
    }
    if let Some(k) = &f.kind {
        q = q.filter(notifications::kind.eq(k.clone()));
    }
    if f.needs_attention {
        q = q.filter(notifications::status.eq_any(ATTENTION));
    }
    let rows = q.load(conn)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "notice.listed").detail(format!("results: {}", rows.len())),
    )?;
    Ok(rows)
}

/// Counts of a pharmacy's notices needing staff (for the navigation badge).
pub fn attention_count(conn: &mut DbConnection, pharmacy_id: &str) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::pharmacy_id.eq(pharmacy_id))
        .filter(notifications::status.eq_any(ATTENTION))
        .count()
        .get_result(conn)
}

fn load(conn: &mut DbConnection, pharmacy_id: &str, id: &str) -> Result<Notification, NoticeError> {
    notifications::table
        .find((pharmacy_id, id))
        .select(Notification::as_select())
        .first(conn)
        .optional()?
        .ok_or(NoticeError::NotFound)
}

/// One notice with its attempts (audited).
pub fn get(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<NotificationDetail, NoticeError> {
    crate::authz::require::<NoticeError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "notice.read",
        None,
    )?;
    let notification = load(conn, pharmacy_id, id)?;
    let attachments = notification_attachments::table
        .filter(notification_attachments::pharmacy_id.eq(pharmacy_id))
        .filter(notification_attachments::notification_id.eq(id))
        .order(notification_attachments::position.asc())
        .select(notification_attachments::filename)
        .load(conn)?;
    let attempts = jobs::attempts_for(conn, pharmacy_id, id)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "notice.read").subject("notification", id),
    )?;
    Ok(NotificationDetail {
        notification,
        attachments,
        attempts,
    })
}

/// Sends a failed or dead notice again (a pharmacist's decision; same Message-ID).
pub fn resend(
    conn: &mut DbConnection,
    ctx: &Ctx,
    cfg: &OutboxConfig,
    pharmacy_id: &str,
    id: &str,
) -> Result<Notification, NoticeError> {
    crate::authz::require::<NoticeError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ResendNotices,
        "notice.resent",
        None,
    )?;
    write_transaction(conn, |c| {
        let n = load(c, pharmacy_id, id)?;
        if !matches!(n.status.as_str(), "failed" | "dead") {
            return Err(NoticeError::WrongState(n.status));
        }
        let requeued = match jobs::job_for(c, pharmacy_id, id)? {
            Some(job) => jobs::requeue(c, pharmacy_id, &job.id, ctx.now, cfg.dead_after)?,
            None => false,
        };
        if !requeued {
            jobs::enqueue(
                c,
                ctx.now,
                cfg.dead_after,
                NewJob {
                    pharmacy_id,
                    kind: SEND_JOB,
                    subject_id: Some(id),
                    payload: serde_json::json!({ "notification_id": id }),
                    run_at: ctx.now,
                },
            )?;
        }
        diesel::update(notifications::table.find((pharmacy_id, id)))
            .set((
                notifications::status.eq("pending"),
                notifications::next_attempt_at.eq(Some(ctx.now.naive_utc())),
                notifications::updated_at.eq(ctx.now.naive_utc()),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "notice.resent")
                .subject("notification", id)
                .detail(format!("was {}", n.status)),
        )?;
        load(c, pharmacy_id, id)
    })
}

/// Records that staff reached the recipient another way (phone, in person).
pub fn mark_contacted(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<Notification, NoticeError> {
    crate::authz::require::<NoticeError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "notice.contacted",
        None,
    )?;
    write_transaction(conn, |c| {
        let n = load(c, pharmacy_id, id)?;
        if !ATTENTION.contains(&n.status.as_str()) {
            return Err(NoticeError::WrongState(n.status));
        }
        if let Some(job) = jobs::job_for(c, pharmacy_id, id)? {
            jobs::cancel(c, pharmacy_id, &job.id, ctx.now)?;
        }
        diesel::update(notifications::table.find((pharmacy_id, id)))
            .set((
                notifications::status.eq("contacted"),
                notifications::updated_at.eq(ctx.now.naive_utc()),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "notice.contacted")
                .subject("notification", id)
                .detail(format!("was {}", n.status)),
        )?;
        load(c, pharmacy_id, id)
    })
}

/// Queues the test notice to `address` (admins; operator on the command line).
pub fn send_test(
    conn: &mut DbConnection,
    ctx: &Ctx,
    cfg: &OutboxConfig,
    tz: chrono_tz::Tz,
    pharmacy_id: &str,
    address: &str,
) -> Result<Notification, NoticeError> {
    crate::authz::require::<NoticeError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ManagePharmacy,
        "notice.enqueued",
        None,
    )?;
    let lh = letterhead(conn, pharmacy_id)?;
    let sent_at = ctx
        .now
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let notice = templates::test_notice(&lh, &sent_at)?;
    enqueue(
        conn,
        ctx,
        cfg,
        pharmacy_id,
        RecipientRef::Address(address.to_string()),
        notice,
        &[],
    )
}
