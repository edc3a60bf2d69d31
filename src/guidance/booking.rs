//! Booking, moving and cancelling sessions: a booking claims one row per
//! 5-minute block (the key refuses an overlapping session), reminders are planned
//! for the booked time, the patient is told, and the consents follow the booking.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::hours::availability;
use super::*;
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::backend::is_unique_violation;
use crate::db::schema::{guidance_sessions, guidance_slot_claims, patients, prescriptions};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::availability::{blocks, within_hours, Span};
use crate::domain::guidance::reminders::ReminderPolicy;
use crate::domain::role::Permission;
use crate::notices::OutboxConfig;

/// A booking as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct BookingInput {
    pub pharmacist_id: String,
    pub patient_id: String,
    /// The prescription the guidance is for (none for a follow-up).
    pub prescription_id: Option<String>,
    /// Start in Japan time, `YYYY-MM-DDTHH:MM`.
    pub start: String,
}

/// One claim row per 5-minute block of the session and its buffer: the key
/// (pharmacist, block) refuses an overlapping session. Rows one by one: batch
/// inserts are not available over both backends.
fn claim_blocks(
    c: &mut DbConnection,
    pharmacy_id: &str,
    session_id: &str,
    pharmacist_id: &str,
    span: &Span,
    buffer_minutes: i64,
) -> QueryResult<()> {
    for b in blocks(span, buffer_minutes) {
        diesel::insert_into(guidance_slot_claims::table)
            .values((
                guidance_slot_claims::pharmacist_id.eq(pharmacist_id),
                guidance_slot_claims::block_start.eq(to_utc(b)),
                guidance_slot_claims::pharmacy_id.eq(pharmacy_id),
                guidance_slot_claims::session_id.eq(session_id),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Books a session (clerks and pharmacists). The start must be a time within the
/// pharmacist's hours, in the future; a slot another booking holds, even at the same
/// instant, is refused with [`GuidanceError::SlotTaken`].
pub fn book(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    reminders: &ReminderPolicy,
    pharmacy_id: &str,
    input: &BookingInput,
) -> Result<Session, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "guidance.booked",
        None,
    )?;
    book_checked(conn, ctx, outbox, reminders, pharmacy_id, input)
}

/// [`book`] once the actor is allowed (staff, or the patient's booking link).
pub(crate) fn book_checked(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    reminders: &ReminderPolicy,
    pharmacy_id: &str,
    input: &BookingInput,
) -> Result<Session, GuidanceError> {
    let start_local =
        NaiveDateTime::parse_from_str(input.start.trim(), "%Y-%m-%dT%H:%M").map_err(|_| {
            invalid(
                "start",
                "開始は YYYY-MM-DDTHH:MM（日本時間） (start as YYYY-MM-DDTHH:MM)",
            )
        })?;
    if to_utc(start_local) <= ctx.now.naive_utc() {
        return Err(invalid("start", "過去の時刻です (in the past)"));
    }
    let r = rules(conn, pharmacy_id)?;
    let span = Span {
        start: start_local,
        end: start_local + Duration::minutes(r.slot_minutes),
    };
    let (weekly, exceptions) = availability(conn, pharmacy_id, &input.pharmacist_id)?;
    if !within_hours(&span, &weekly, &exceptions) {
        return Err(invalid(
            "start",
            "薬剤師の受付時間外です (outside the pharmacist's hours)",
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now.naive_utc();
    let outcome = write_transaction(conn, |c| -> Result<Session, GuidanceError> {
        if !is_pharmacist(c, pharmacy_id, &input.pharmacist_id)? {
            return Err(invalid("pharmacist_id", "この薬局の薬剤師ではありません"));
        }
        let n: i64 = patients::table
            .find((pharmacy_id, &input.patient_id))
            .count()
            .get_result(c)?;
        if n == 0 {
            return Err(invalid("patient_id", "この薬局の患者ではありません"));
        }
        if let Some(rx) = &input.prescription_id {
            let n: i64 = prescriptions::table
                .find((pharmacy_id, rx))
                .filter(prescriptions::patient_id.eq(&input.patient_id))
                .count()
                .get_result(c)?;
            if n == 0 {
                return Err(invalid(
                    "prescription_id",
                    "この患者の処方箋ではありません (not this patient's prescription)",
                ));
            }
        }
        let review = super::conduct::first_visit_reasons(
            c,
            pharmacy_id,
            &input.patient_id,
            input.prescription_id.as_deref(),
        )?;
        diesel::insert_into(guidance_sessions::table)
            .values((
                guidance_sessions::pharmacy_id.eq(pharmacy_id),
                guidance_sessions::id.eq(&id),
                guidance_sessions::pharmacist_id.eq(&input.pharmacist_id),
                guidance_sessions::patient_id.eq(&input.patient_id),
                guidance_sessions::prescription_id.eq(&input.prescription_id),
                guidance_sessions::starts_at.eq(to_utc(span.start)),
                guidance_sessions::ends_at.eq(to_utc(span.end)),
                guidance_sessions::buffer_minutes.eq(r.buffer_minutes as i32),
                guidance_sessions::status.eq("booked"),
                guidance_sessions::booked_by.eq(&ctx.actor.name),
                guidance_sessions::version.eq(1),
                guidance_sessions::review_reasons.eq(review.join("、")),
                guidance_sessions::created_at.eq(now),
                guidance_sessions::updated_at.eq(now),
            ))
            .execute(c)?;
        claim_blocks(
            c,
            pharmacy_id,
            &id,
            &input.pharmacist_id,
            &span,
            r.buffer_minutes,
        )?;
        let session = load_session(c, pharmacy_id, &id)?;
        let planned = notify::plan_reminders(c, pharmacy_id, &session, now, reminders)?;
        let notice = notify::notify(c, ctx, outbox, pharmacy_id, &session, "booked", "", "")?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.booked")
                .subject("guidance_session", &id)
                .detail(format!(
                    "{} JST, pharmacist {}; reminders {planned}; notice {notice}",
                    span.start, input.pharmacist_id
                )),
        )?;
        Ok(session)
    });
    match outcome {
        Err(GuidanceError::Db(e)) if is_unique_violation(&e) => Err(GuidanceError::SlotTaken),
        other => other,
    }
}

/// Cancels a session with a reason; its blocks are freed.
pub fn cancel(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    id: &str,
    reason: &str,
) -> Result<Session, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "guidance.cancelled",
        Some(("guidance_session", id)),
    )?;
    let reason = crate::domain::text::normalize(reason);
    if reason.is_empty() {
        return Err(invalid(
            "reason",
            "理由を入力してください (reason required)",
        ));
    }
    write_transaction(conn, |c| {
        cancel_session(c, ctx, outbox, pharmacy_id, id, &reason)
    })
}

/// Cancels inside the caller's transaction (staff, or the patient's link): frees
/// the blocks, drops unsent reminders, tells the patient, audits.
pub(crate) fn cancel_session(
    c: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    id: &str,
    reason: &str,
) -> Result<Session, GuidanceError> {
    let now = ctx.now.naive_utc();
    {
        let n = diesel::update(
            guidance_sessions::table
                .find((pharmacy_id, id))
                .filter(guidance_sessions::status.eq("booked"))
                .filter(
                    guidance_sessions::outcome
                        .is_null()
                        .or(guidance_sessions::outcome.ne("completed")),
                ),
        )
        .set((
            guidance_sessions::status.eq("cancelled"),
            guidance_sessions::cancel_reason.eq(Some(&reason)),
            guidance_sessions::version.eq(guidance_sessions::version + 1),
            guidance_sessions::updated_at.eq(now),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(GuidanceError::WrongState(
                "予約中ではありません (not booked)".into(),
            ));
        }
        diesel::delete(
            guidance_slot_claims::table
                .filter(guidance_slot_claims::pharmacy_id.eq(pharmacy_id))
                .filter(guidance_slot_claims::session_id.eq(id)),
        )
        .execute(c)?;
        notify::drop_unsent(c, pharmacy_id, id)?;
        let ended = super::consents::end_with_booking(c, pharmacy_id, id, reason, now)?;
        let session = load_session(c, pharmacy_id, id)?;
        let notice = notify::notify(
            c,
            ctx,
            outbox,
            pharmacy_id,
            &session,
            "cancelled",
            "",
            reason,
        )?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.cancelled")
                .subject("guidance_session", id)
                .detail(format!("{reason}; consents ended {ended}; notice {notice}")),
        )?;
        Ok(session)
    }
}

/// Moves a booked session to another start (Japan time), with a reason: the new
/// blocks are claimed (refused when taken), the old ones freed, reminders planned
/// for the new time only, the viewing consent moved with it, and the patient told.
#[allow(clippy::too_many_arguments)]
pub fn reschedule(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    reminders: &ReminderPolicy,
    pharmacy_id: &str,
    id: &str,
    start: &str,
    reason: &str,
) -> Result<Session, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "guidance.moved",
        Some(("guidance_session", id)),
    )?;
    move_checked(conn, ctx, outbox, reminders, pharmacy_id, id, start, reason)
}

/// [`reschedule`] once the actor is allowed (staff, or the patient's link).
#[allow(clippy::too_many_arguments)]
pub(crate) fn move_checked(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    reminders: &ReminderPolicy,
    pharmacy_id: &str,
    id: &str,
    start: &str,
    reason: &str,
) -> Result<Session, GuidanceError> {
    let reason = crate::domain::text::normalize(reason);
    if reason.is_empty() {
        return Err(invalid(
            "reason",
            "理由を入力してください (reason required)",
        ));
    }
    let start_local =
        NaiveDateTime::parse_from_str(start.trim(), "%Y-%m-%dT%H:%M").map_err(|_| {
            invalid(
                "start",
                "開始は YYYY-MM-DDTHH:MM（日本時間） (start as YYYY-MM-DDTHH:MM)",
            )
        })?;
    if to_utc(start_local) <= ctx.now.naive_utc() {
        return Err(invalid("start", "過去の時刻です (in the past)"));
    }
    let now = ctx.now.naive_utc();
    let outcome = write_transaction(conn, |c| -> Result<Session, GuidanceError> {
        let old: Session = guidance_sessions::table
            .find((pharmacy_id, id))
            .select(Session::as_select())
            .first(c)
            .optional()?
            .ok_or(GuidanceError::NotFound)?;
        if old.status != "booked" || old.completed() {
            return Err(GuidanceError::WrongState(
                "予約中ではありません (not booked)".into(),
            ));
        }
        let r = rules(c, pharmacy_id)?;
        let span = Span {
            start: start_local,
            end: start_local + Duration::minutes(r.slot_minutes),
        };
        let (weekly, exceptions) = availability(c, pharmacy_id, &old.pharmacist_id)?;
        if !within_hours(&span, &weekly, &exceptions) {
            return Err(invalid(
                "start",
                "薬剤師の受付時間外です (outside the pharmacist's hours)",
            ));
        }
        diesel::delete(
            guidance_slot_claims::table
                .filter(guidance_slot_claims::pharmacy_id.eq(pharmacy_id))
                .filter(guidance_slot_claims::session_id.eq(id)),
        )
        .execute(c)?;
        claim_blocks(
            c,
            pharmacy_id,
            id,
            &old.pharmacist_id,
            &span,
            r.buffer_minutes,
        )?;
        diesel::update(guidance_sessions::table.find((pharmacy_id, id)))
            .set((
                guidance_sessions::starts_at.eq(to_utc(span.start)),
                guidance_sessions::ends_at.eq(to_utc(span.end)),
                guidance_sessions::buffer_minutes.eq(r.buffer_minutes as i32),
                guidance_sessions::version.eq(old.version + 1),
                guidance_sessions::updated_at.eq(now),
                // A failed attempt (no answer, connection) is rebooked afresh; the
                // audit trail keeps the attempt.
                guidance_sessions::started_at.eq(None::<NaiveDateTime>),
                guidance_sessions::ended_at.eq(None::<NaiveDateTime>),
                guidance_sessions::outcome.eq(None::<String>),
            ))
            .execute(c)?;
        let session = load_session(c, pharmacy_id, id)?;
        let consents = super::consents::follow_booking(c, pharmacy_id, &session, now)?;
        let planned = notify::plan_reminders(c, pharmacy_id, &session, now, reminders)?;
        let notice = notify::notify(c, ctx, outbox, pharmacy_id, &session, "moved", "", &reason)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.moved")
                .subject("guidance_session", id)
                .detail(format!(
                    "{} → {} JST; {reason}; reminders {planned}; consents moved {consents}; notice {notice}",
                    to_local(old.starts_at),
                    span.start
                )),
        )?;
        Ok(session)
    });
    match outcome {
        Err(GuidanceError::Db(e)) if is_unique_violation(&e) => Err(GuidanceError::SlotTaken),
        other => other,
    }
}
