//! Pharmacists' hours and exceptions, the pharmacy's slot rules, and the free
//! slots computed from them (never stored one by one).

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::*;
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{
    guidance_sessions, guidance_settings, memberships, pharmacist_exceptions, pharmacist_hours,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::availability::{free_slots, Exception, SlotRules, Span, WeeklyHours};
use crate::domain::role::Permission;

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

pub(crate) fn is_pharmacist(
    c: &mut DbConnection,
    pharmacy_id: &str,
    user_id: &str,
) -> QueryResult<bool> {
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

pub(crate) fn availability(
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
pub(crate) fn busy(c: &mut DbConnection, user_id: &str, day: NaiveDate) -> QueryResult<Vec<Span>> {
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

/// The pharmacy's active pharmacists (id, display name), for booking forms.
pub fn pharmacists(c: &mut DbConnection, pharmacy_id: &str) -> QueryResult<Vec<(String, String)>> {
    crate::db::schema::users::table
        .inner_join(memberships::table)
        .filter(memberships::pharmacy_id.eq(pharmacy_id))
        .filter(memberships::role.eq("pharmacist"))
        .filter(crate::db::schema::users::disabled_at.is_null())
        .order(crate::db::schema::users::display_name.asc())
        .select((
            crate::db::schema::users::id,
            crate::db::schema::users::display_name,
        ))
        .load(c)
}

/// A pharmacist's weekly hours as `(weekday 1-7, start, end)` in Japan time.
pub fn weekly_hours(
    c: &mut DbConnection,
    pharmacy_id: &str,
    user_id: &str,
) -> QueryResult<Vec<(i32, String, String)>> {
    pharmacist_hours::table
        .filter(pharmacist_hours::pharmacy_id.eq(pharmacy_id))
        .filter(pharmacist_hours::user_id.eq(user_id))
        .order((
            pharmacist_hours::weekday.asc(),
            pharmacist_hours::start_time.asc(),
        ))
        .select((
            pharmacist_hours::weekday,
            pharmacist_hours::start_time,
            pharmacist_hours::end_time,
        ))
        .load(c)
}

/// The pharmacy's settings as they stand (defaults until set).
pub fn current_settings(c: &mut DbConnection, pharmacy_id: &str) -> QueryResult<SettingsInput> {
    let r = rules(c, pharmacy_id)?;
    let qualification_url = guidance_settings::table
        .find(pharmacy_id)
        .select(guidance_settings::qualification_url)
        .first::<String>(c)
        .optional()?
        .unwrap_or_default();
    Ok(SettingsInput {
        slot_minutes: r.slot_minutes,
        buffer_minutes: r.buffer_minutes,
        qualification_url,
    })
}
