//! Online medication guidance scheduling (オンライン服薬指導): pharmacists publish
//! weekly hours and exceptions, slots are computed from them and the sessions
//! booked, and a booking claims every 5-minute block the session (with its buffer)
//! occupies, so that a pharmacist can never hold two sessions at once — the
//! database's key refuses the second of two racing bookings.

pub mod notify;
pub mod portal;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::backend::is_unique_violation;
use crate::db::schema::{
    guidance_sessions, guidance_settings, guidance_slot_claims, memberships, patients,
    pharmacist_exceptions, pharmacist_hours,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::fields::FieldErrors;
use crate::domain::guidance::availability::{
    blocks, free_slots, within_hours, Exception, SlotRules, Span, WeeklyHours,
};
use crate::domain::guidance::reminders::ReminderPolicy;
use crate::domain::role::Permission;
use crate::notices::OutboxConfig;

/// Japan is UTC+9 all year; sessions are stored in UTC and shown in Japan time.
const JST: i64 = 9;

fn to_utc(local: NaiveDateTime) -> NaiveDateTime {
    local - Duration::hours(JST)
}

fn to_local(utc: NaiveDateTime) -> NaiveDateTime {
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
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<Denied> for GuidanceError {
    fn from(d: Denied) -> Self {
        GuidanceError::Forbidden(d)
    }
}

fn invalid(field: &str, m: impl Into<String>) -> GuidanceError {
    let mut f = FieldErrors::new();
    f.add(field, m);
    GuidanceError::Invalid(f)
}

fn time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// The pharmacy's slot rules (defaults until set).
pub fn rules(c: &mut DbConnection, pharmacy_id: &str) -> QueryResult<SlotRules> {
    Ok(guidance_settings::table
        .find(pharmacy_id)
        .select((
            guidance_settings::slot_minutes,
            guidance_settings::buffer_minutes,
        ))
        .first::<(i32, i32)>(c)
        .optional()?
        .map(|(s, b)| SlotRules {
            slot_minutes: s as i64,
            buffer_minutes: b as i64,
        })
        .unwrap_or_default())
}

/// A pharmacy's guidance settings as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct SettingsInput {
    /// Slot length in minutes (5-120, in 5s; default 15).
    pub slot_minutes: i64,
    /// Free minutes after each session (0-60, in 5s; default 5).
    pub buffer_minutes: i64,
    /// The pharmacy's マイナ在宅受付Web URL (https), shown to patients.
    pub qualification_url: String,
}

/// Sets the pharmacy's slot rules and マイナ在宅受付Web URL (admins). Sessions already
/// booked keep their length.
pub fn set_settings(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    input: &SettingsInput,
) -> Result<SettingsInput, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ManagePharmacy,
        "guidance.settings_changed",
        None,
    )?;
    let rules = SlotRules {
        slot_minutes: input.slot_minutes,
        buffer_minutes: input.buffer_minutes,
    };
    rules.validate().map_err(|m| invalid("slot_minutes", m))?;
    let url = input.qualification_url.trim().to_string();
    if !url.is_empty()
        && (!url.starts_with("https://") || url.len() > 500 || url.contains(char::is_whitespace))
    {
        return Err(invalid(
            "qualification_url",
            "https:// で始まるURLを入力してください (an https URL)",
        ));
    }
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let exists: i64 = guidance_settings::table
            .find(pharmacy_id)
            .count()
            .get_result(c)?;
        if exists == 0 {
            diesel::insert_into(guidance_settings::table)
                .values((
                    guidance_settings::pharmacy_id.eq(pharmacy_id),
                    guidance_settings::slot_minutes.eq(rules.slot_minutes as i32),
                    guidance_settings::buffer_minutes.eq(rules.buffer_minutes as i32),
                    guidance_settings::qualification_url.eq(&url),
                    guidance_settings::version.eq(1),
                    guidance_settings::updated_at.eq(now),
                ))
                .execute(c)?;
        } else {
            diesel::update(guidance_settings::table.find(pharmacy_id))
                .set((
                    guidance_settings::slot_minutes.eq(rules.slot_minutes as i32),
                    guidance_settings::buffer_minutes.eq(rules.buffer_minutes as i32),
                    guidance_settings::qualification_url.eq(&url),
                    guidance_settings::version.eq(guidance_settings::version + 1),
                    guidance_settings::updated_at.eq(now),
                ))
                .execute(c)?;
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.settings_changed").detail(format!(
                "slot {} min, buffer {} min, url {}",
                rules.slot_minutes,
                rules.buffer_minutes,
                if url.is_empty() { "-" } else { &url }
            )),
        )?;
        Ok(SettingsInput {
            slot_minutes: rules.slot_minutes,
            buffer_minutes: rules.buffer_minutes,
            qualification_url: url.clone(),
        })
    })
}

/// One weekly range as submitted (`weekday` 1 = Monday … 7 = Sunday, times HH:MM).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct HoursInput {
    pub weekday: u32,
    pub start: String,
    pub end: String,
}

fn weekday(n: u32) -> Option<Weekday> {
    Some(match n {
        1 => Weekday::Mon,
        2 => Weekday::Tue,
        3 => Weekday::Wed,
        4 => Weekday::Thu,
        5 => Weekday::Fri,
        6 => Weekday::Sat,
        7 => Weekday::Sun,
        _ => return None,
    })
}

fn is_pharmacist(c: &mut DbConnection, pharmacy_id: &str, user_id: &str) -> QueryResult<bool> {
    let role: Option<String> = memberships::table
        .find((pharmacy_id, user_id))
        .select(memberships::role)
        .first(c)
        .optional()?;
    Ok(matches!(
        role.as_deref(),
        Some("pharmacist") | Some("admin")
    ))
}

/// Replaces a pharmacist's weekly hours (the pharmacist, or an admin).
pub fn set_hours(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    user_id: &str,
    hours: &[HoursInput],
) -> Result<usize, GuidanceError> {
    let own = ctx.actor.user_id.as_deref() == Some(user_id);
    let needed = if own {
        Permission::Dispense
    } else {
        Permission::ManagePharmacy
    };
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        needed,
        "guidance.hours_set",
        Some(("user", user_id)),
    )?;
    let mut e = FieldErrors::new();
    let mut parsed = Vec::new();
    for (i, h) in hours.iter().enumerate() {
        match (weekday(h.weekday), time(&h.start), time(&h.end)) {
            (Some(_), Some(s), Some(t)) if s < t => parsed.push((h.weekday, s, t)),
            _ => e.add(
                &format!("hours[{i}]"),
                "曜日は1〜7、時刻は HH:MM で開始 < 終了 (weekday 1-7, HH:MM, start < end)",
            ),
        }
    }
    if !e.is_empty() {
        return Err(GuidanceError::Invalid(e));
    }
    write_transaction(conn, |c| {
        if !is_pharmacist(c, pharmacy_id, user_id)? {
            return Err(invalid(
                "user_id",
                "この薬局の薬剤師ではありません (not a pharmacist here)",
            ));
        }
        diesel::delete(
            pharmacist_hours::table
                .filter(pharmacist_hours::pharmacy_id.eq(pharmacy_id))
                .filter(pharmacist_hours::user_id.eq(user_id)),
        )
        .execute(c)?;
        for (wd, s, t) in &parsed {
            diesel::insert_into(pharmacist_hours::table)
                .values((
                    pharmacist_hours::pharmacy_id.eq(pharmacy_id),
                    pharmacist_hours::id.eq(uuid::Uuid::now_v7().to_string()),
                    pharmacist_hours::user_id.eq(user_id),
                    pharmacist_hours::weekday.eq(*wd as i32),
                    pharmacist_hours::start_time.eq(s.format("%H:%M").to_string()),
                    pharmacist_hours::end_time.eq(t.format("%H:%M").to_string()),
                ))
                .execute(c)?;
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.hours_set")
                .subject("user", user_id)
                .detail(format!("{} weekly ranges", parsed.len())),
        )?;
        Ok(parsed.len())
    })
}

fn availability(
    c: &mut DbConnection,
    pharmacy_id: &str,
    user_id: &str,
) -> QueryResult<(Vec<WeeklyHours>, Vec<Exception>)> {
    let weekly = pharmacist_hours::table
        .filter(pharmacist_hours::pharmacy_id.eq(pharmacy_id))
        .filter(pharmacist_hours::user_id.eq(user_id))
        .select((
            pharmacist_hours::weekday,
            pharmacist_hours::start_time,
            pharmacist_hours::end_time,
        ))
        .load::<(i32, String, String)>(c)?
        .into_iter()
        .filter_map(|(w, s, e)| {
            Some(WeeklyHours {
                weekday: weekday(w as u32)?,
                start: time(&s)?,
                end: time(&e)?,
            })
        })
        .collect();
    let exceptions = pharmacist_exceptions::table
        .filter(pharmacist_exceptions::pharmacy_id.eq(pharmacy_id))
        .filter(pharmacist_exceptions::user_id.eq(user_id))
        .select((
            pharmacist_exceptions::day,
            pharmacist_exceptions::closed,
            pharmacist_exceptions::start_time,
            pharmacist_exceptions::end_time,
        ))
        .load::<(NaiveDate, bool, Option<String>, Option<String>)>(c)?
        .into_iter()
        .filter_map(|(d, closed, s, e)| {
            if closed {
                return Some(Exception::Closed(d));
            }
            Some(Exception::Hours {
                date: d,
                start: time(s.as_deref()?)?,
                end: time(e.as_deref()?)?,
            })
        })
        .collect();
    Ok((weekly, exceptions))
}

/// An exception as submitted: closed (holiday, absence) or other hours that day.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct ExceptionInput {
    /// YYYY-MM-DD
    pub day: String,
    pub closed: bool,
    pub start: Option<String>,
    pub end: Option<String>,
    pub reason: String,
}

/// Adds an exception to a pharmacist's hours.
pub fn add_exception(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    user_id: &str,
    input: &ExceptionInput,
) -> Result<(), GuidanceError> {
    let own = ctx.actor.user_id.as_deref() == Some(user_id);
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        if own {
            Permission::Dispense
        } else {
            Permission::ManagePharmacy
        },
        "guidance.exception_added",
        Some(("user", user_id)),
    )?;
    let day = NaiveDate::parse_from_str(input.day.trim(), "%Y-%m-%d")
        .map_err(|_| invalid("day", "日付は YYYY-MM-DD (date as YYYY-MM-DD)"))?;
    let (start, end) = match (
        input.closed,
        input.start.as_deref().and_then(time),
        input.end.as_deref().and_then(time),
    ) {
        (true, _, _) => (None, None),
        (false, Some(s), Some(e)) if s < e => (Some(s), Some(e)),
        _ => {
            return Err(invalid(
                "start",
                "休みでない場合は開始・終了時刻（HH:MM）を入力 (hours required)",
            ))
        }
    };
    write_transaction(conn, |c| {
        diesel::insert_into(pharmacist_exceptions::table)
            .values((
                pharmacist_exceptions::pharmacy_id.eq(pharmacy_id),
                pharmacist_exceptions::id.eq(uuid::Uuid::now_v7().to_string()),
                pharmacist_exceptions::user_id.eq(user_id),
                pharmacist_exceptions::day.eq(day),
                pharmacist_exceptions::closed.eq(input.closed),
                pharmacist_exceptions::start_time.eq(start.map(|t| t.format("%H:%M").to_string())),
                pharmacist_exceptions::end_time.eq(end.map(|t| t.format("%H:%M").to_string())),
                pharmacist_exceptions::reason.eq(input.reason.trim()),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.exception_added")
                .subject("user", user_id)
                .detail(format!("{day} closed={}", input.closed)),
        )?;
        Ok(())
    })
}

/// Booked sessions of a pharmacist that touch `day` (local), as local spans.
fn busy(c: &mut DbConnection, user_id: &str, day: NaiveDate) -> QueryResult<Vec<Span>> {
    let from = to_utc(day.and_time(NaiveTime::MIN)) - Duration::hours(2);
    let to = from + Duration::hours(28);
    Ok(guidance_sessions::table
        .filter(guidance_sessions::pharmacist_id.eq(user_id))
        .filter(guidance_sessions::status.eq("booked"))
        .filter(guidance_sessions::starts_at.ge(from))
        .filter(guidance_sessions::starts_at.lt(to))
        .select((
            guidance_sessions::starts_at,
            guidance_sessions::ends_at,
            guidance_sessions::buffer_minutes,
        ))
        .load::<(NaiveDateTime, NaiveDateTime, i32)>(c)?
        .into_iter()
        .map(|(s, e, b)| Span {
            start: to_local(s),
            end: to_local(e) + Duration::minutes(b as i64),
        })
        .collect())
}

/// Free slots of a pharmacist on `day` (Japan time), from now on.
pub fn slots(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    user_id: &str,
    day: NaiveDate,
) -> Result<Vec<Span>, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "guidance.slots",
        None,
    )?;
    let r = rules(conn, pharmacy_id)?;
    let (weekly, exceptions) = availability(conn, pharmacy_id, user_id)?;
    let busy = busy(conn, user_id, day)?;
    Ok(free_slots(
        day,
        &weekly,
        &exceptions,
        &r,
        &busy,
        to_local(ctx.now.naive_utc()),
    ))
}

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

fn load_session(c: &mut DbConnection, pharmacy_id: &str, id: &str) -> QueryResult<Session> {
    guidance_sessions::table
        .find((pharmacy_id, id))
        .select(Session::as_select())
        .first(c)
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
                .filter(guidance_sessions::status.eq("booked")),
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
                .detail(format!("{reason}; notice {notice}")),
        )?;
        Ok(session)
    }
}

/// Moves a booked session to another start (Japan time), with a reason: the new
/// blocks are claimed (refused when taken), the old ones freed, reminders planned
/// for the new time only, and the patient told.
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
        if old.status != "booked" {
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
            ))
            .execute(c)?;
        let session = load_session(c, pharmacy_id, id)?;
        let planned = notify::plan_reminders(c, pharmacy_id, &session, now, reminders)?;
        let notice = notify::notify(c, ctx, outbox, pharmacy_id, &session, "moved", "", &reason)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.moved")
                .subject("guidance_session", id)
                .detail(format!(
                    "{} → {} JST; {reason}; reminders {planned}; notice {notice}",
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
