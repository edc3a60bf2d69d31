//! Guidance notices through the outbox: booking confirmation (with an `.ics`),
//! move and cancel notices, and reminders. Reminders are rows planned when a
//! session is booked or moved (for that time only; a move or cancel removes the
//! unsent ones) and sent by a sweep that marks each row in the same transaction
//! as its notice: each is sent once, never for a cancelled or moved session.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{GuidanceError, Session};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{guidance_reminders, guidance_sessions, patients, users};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::reminders::{schedule, ReminderPolicy};
use crate::domain::ics::Appointment;
use crate::notices::templates::{guidance_notice, GuidanceFacts};
use crate::notices::{self, OutboxConfig, RecipientRef};

/// `2026年11月30日(月) 09:20` for a UTC time.
fn local_label(utc: NaiveDateTime) -> String {
    let l = utc + Duration::hours(9);
    const DAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
    use chrono::Datelike;
    format!(
        "{}({}) {}",
        l.format("%Y年%m月%d日"),
        DAYS[l.weekday().num_days_from_monday() as usize],
        l.format("%H:%M")
    )
}

fn when_label(kind: &str) -> &'static str {
    match kind {
        "week_before" => "1週間前",
        "day_before" => "前日",
        _ => "まもなく",
    }
}

/// Renders and queues a notice about `s` to its patient (in the caller's transaction).
#[allow(clippy::too_many_arguments)]
pub(crate) fn notify(
    c: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    s: &Session,
    what: &'static str,
    when: &str,
    reason: &str,
) -> Result<String, GuidanceError> {
    let patient_name: String = patients::table
        .find((pharmacy_id, &s.patient_id))
        .select(patients::name_kanji)
        .first(c)?;
    let pharmacist_name: String = users::table
        .find(&s.pharmacist_id)
        .select(users::display_name)
        .first(c)?;
    let qualification_url = super::current_settings(c, pharmacy_id)?.qualification_url;
    let letterhead = notices::letterhead(c, pharmacy_id)?;
    let appointment = (what != "reminder").then(|| Appointment {
        uid: format!("{}@guidance", s.id),
        sequence: s.version as u32,
        start: DateTime::<Utc>::from_naive_utc_and_offset(s.starts_at, Utc),
        end: DateTime::<Utc>::from_naive_utc_and_offset(s.ends_at, Utc),
        summary: format!("オンライン服薬指導（{}）", letterhead.name),
        description: format!("担当: 薬剤師 {pharmacist_name}"),
        location: "オンライン（ビデオ通話）".into(),
        cancelled: what == "cancelled",
        stamp: ctx.now,
    });
    let rendered = guidance_notice(
        &letterhead,
        &GuidanceFacts {
            what,
            when_label: when.to_string(),
            patient_name,
            starts_local: local_label(s.starts_at),
            pharmacist_name,
            qualification_url,
            connection_test_url: outbox.connection_test_url(),
            portal_url: if matches!(what, "booked" | "moved") {
                super::portal::issue(c, pharmacy_id, s, ctx.now.naive_utc(), outbox)?
            } else {
                String::new()
            },
            reason: reason.to_string(),
            appointment,
        },
    )
    .map_err(|e| GuidanceError::WrongState(e.to_string()))?;
    to_patient(c, ctx, outbox, pharmacy_id, &s.patient_id, rendered)
}

/// Queues a rendered notice to a patient (in the caller's transaction); returns its id.
fn to_patient(
    c: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    patient_id: &str,
    rendered: notices::templates::Rendered,
) -> Result<String, GuidanceError> {
    let n = notices::enqueue(
        c,
        ctx,
        outbox,
        pharmacy_id,
        RecipientRef::Patient(patient_id.to_string()),
        rendered,
        &[],
    )
    .map_err(|e| match e {
        notices::NoticeError::Db(d) => GuidanceError::Db(d),
        other => GuidanceError::WrongState(other.to_string()),
    })?;
    Ok(n.id)
}

/// Sends the patient a booking link (an invitation to pick a slot), in the
/// caller's transaction. Returns the notice id.
pub(crate) fn invite(
    c: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    patient_id: &str,
    url: &str,
) -> Result<String, GuidanceError> {
    let patient_name: String = patients::table
        .find((pharmacy_id, patient_id))
        .select(patients::name_kanji)
        .first(c)?;
    let qualification_url = super::current_settings(c, pharmacy_id)?.qualification_url;
    let letterhead = notices::letterhead(c, pharmacy_id)?;
    let rendered = guidance_notice(
        &letterhead,
        &GuidanceFacts {
            what: "invite",
            when_label: String::new(),
            patient_name,
            starts_local: String::new(),
            pharmacist_name: String::new(),
            qualification_url,
            connection_test_url: outbox.connection_test_url(),
            portal_url: url.to_string(),
            reason: String::new(),
            appointment: None,
        },
    )
    .map_err(|e| GuidanceError::WrongState(e.to_string()))?;
    to_patient(c, ctx, outbox, pharmacy_id, patient_id, rendered)
}

/// Replaces the unsent reminders of a session with those of its current time.
pub(crate) fn plan_reminders(
    c: &mut DbConnection,
    pharmacy_id: &str,
    s: &Session,
    now: NaiveDateTime,
    policy: &ReminderPolicy,
) -> QueryResult<usize> {
    drop_unsent(c, pharmacy_id, &s.id)?;
    let planned = schedule(now, s.starts_at, policy);
    for (kind, due) in &planned {
        diesel::insert_into(guidance_reminders::table)
            .values((
                guidance_reminders::pharmacy_id.eq(pharmacy_id),
                guidance_reminders::session_id.eq(&s.id),
                guidance_reminders::kind.eq(kind.as_str()),
                guidance_reminders::starts_at.eq(s.starts_at),
                guidance_reminders::due_at.eq(*due),
            ))
            .execute(c)?;
    }
    Ok(planned.len())
}

/// Removes a session's unsent reminders (cancelled or moved).
pub(crate) fn drop_unsent(
    c: &mut DbConnection,
    pharmacy_id: &str,
    session_id: &str,
) -> QueryResult<usize> {
    diesel::delete(
        guidance_reminders::table
            .filter(guidance_reminders::pharmacy_id.eq(pharmacy_id))
            .filter(guidance_reminders::session_id.eq(session_id))
            .filter(guidance_reminders::sent_at.is_null()),
    )
    .execute(c)
}

/// Sends every reminder due at `now` once; returns how many were sent.
pub fn send_due_reminders(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    outbox: &OutboxConfig,
) -> Result<usize, GuidanceError> {
    let ctx = Ctx::system("guidance-reminders", now);
    let due: Vec<(String, String, String, NaiveDateTime)> = guidance_reminders::table
        .filter(guidance_reminders::sent_at.is_null())
        .filter(guidance_reminders::due_at.le(now.naive_utc()))
        .select((
            guidance_reminders::pharmacy_id,
            guidance_reminders::session_id,
            guidance_reminders::kind,
            guidance_reminders::starts_at,
        ))
        .limit(500)
        .load(conn)?;
    let mut sent = 0;
    for (pid, sid, kind, starts_at) in due {
        let done = write_transaction(conn, |c| -> Result<bool, GuidanceError> {
            // Claim the row first: a concurrent sweep then finds nothing to send.
            let claimed = diesel::update(
                guidance_reminders::table
                    .find((&pid, &sid, &kind, starts_at))
                    .filter(guidance_reminders::sent_at.is_null()),
            )
            .set(guidance_reminders::sent_at.eq(Some(now.naive_utc())))
            .execute(c)?;
            let session: Option<Session> = guidance_sessions::table
                .find((&pid, &sid))
                .select(Session::as_select())
                .first(c)
                .optional()?;
            // Guard: only for a session still booked at the time it was planned for.
            let Some(s) = session.filter(|s| s.status == "booked" && s.starts_at == starts_at)
            else {
                return Ok(false);
            };
            if claimed == 0 {
                return Ok(false);
            }
            let nid = notify(c, &ctx, outbox, &pid, &s, "reminder", when_label(&kind), "")?;
            diesel::update(guidance_reminders::table.find((&pid, &sid, &kind, starts_at)))
                .set(guidance_reminders::notification_id.eq(Some(&nid)))
                .execute(c)?;
            audit::record(
                c,
                &ctx,
                Event::ok(Some(&pid), "guidance.reminder_sent")
                    .subject("guidance_session", &sid)
                    .detail(format!("{kind}; notice {nid}")),
            )?;
            Ok(true)
        })?;
        if done {
            sent += 1;
        }
    }
    Ok(sent)
}
