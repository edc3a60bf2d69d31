//! Holding a session (DOMAIN.md §6): the pharmacist opens it with the patient's
//! identity check, who else is present (with consent) and the meeting link; start
//! and end are logged; the outcome is recorded, and a failed session says what
//! happens next (call again, another time, or in person). A first visit with
//! 麻薬/向精神薬 or a long supply waits for a pharmacist's review. Delivery of a
//! prescription may start only once its guidance is completed.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{invalid, load_session, notify, GuidanceError, Session};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{dispensed_items, guidance_sessions, prescription_items};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::conduct::{outcome_refusal, Fallback, IdentityCheck, Outcome};
use crate::domain::guidance::first_visit::{review_reasons, ItemFacts};
use crate::domain::role::Permission;

/// Whether the pharmacy knows the patient: something dispensed before (other than
/// `except`), or a guidance completed.
pub(crate) fn known_patient(
    c: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
    except: Option<&str>,
) -> QueryResult<bool> {
    let dispensed: i64 = dispensed_items::table
        .filter(dispensed_items::pharmacy_id.eq(pharmacy_id))
        .filter(dispensed_items::patient_id.eq(patient_id))
        .filter(dispensed_items::prescription_id.ne(except.unwrap_or("")))
        .count()
        .get_result(c)?;
    let held: i64 = guidance_sessions::table
        .filter(guidance_sessions::pharmacy_id.eq(pharmacy_id))
        .filter(guidance_sessions::patient_id.eq(patient_id))
        .filter(guidance_sessions::status.eq("booked"))
        .filter(guidance_sessions::outcome.eq("completed"))
        .count()
        .get_result(c)?;
    Ok(dispensed + held > 0)
}

/// The first-visit review reasons for a booking of `prescription_id`.
pub(crate) fn first_visit_reasons(
    c: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
    prescription_id: Option<&str>,
) -> QueryResult<Vec<String>> {
    let Some(rx) = prescription_id else {
        return Ok(Vec::new());
    };
    let new_patient = !known_patient(c, pharmacy_id, patient_id, Some(rx))?;
    if !new_patient {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, i32)> = prescription_items::table
        .filter(prescription_items::pharmacy_id.eq(pharmacy_id))
        .filter(prescription_items::prescription_id.eq(rx))
        .select((
            prescription_items::drug_code,
            prescription_items::drug_name,
            prescription_items::days,
        ))
        .load(c)?;
    let mut items = Vec::with_capacity(rows.len());
    for (code, name, days) in rows {
        let product = crate::drugs::lookup(c, &code)?.into_iter().next();
        items.push(ItemFacts {
            name,
            narcotic: product.as_ref().map(|p| p.narcotic),
            psychotropic: product.as_ref().map(|p| p.psychotropic),
            days,
        });
    }
    Ok(review_reasons(true, &items))
}

/// Opening a session as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct StartInput {
    /// known_patient, mynumber_card, driver_licence, passport or two_ids
    pub identity_check: String,
    /// Who else is present (empty: nobody).
    pub attendees: String,
    /// The patient agreed to those present (required when someone is).
    pub attendees_consented: bool,
    /// The external meeting link (https).
    pub meeting_url: String,
}

fn open_session(
    c: &mut DbConnection,
    pharmacy_id: &str,
    id: &str,
) -> Result<Session, GuidanceError> {
    let s = load_session(c, pharmacy_id, id)
        .optional()?
        .ok_or(GuidanceError::NotFound)?;
    if s.status != "booked" || s.completed() {
        return Err(GuidanceError::WrongState(
            "予約中のセッションではありません (not a booked session)".into(),
        ));
    }
    Ok(s)
}

/// Opens (or, after a failed call, re-opens) a session (pharmacists; audited).
pub fn start(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    input: &StartInput,
) -> Result<Session, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "guidance.started",
        Some(("guidance_session", id)),
    )?;
    let identity = IdentityCheck::parse(&input.identity_check).ok_or_else(|| {
        invalid(
            "identity_check",
            "known_patient, mynumber_card, driver_licence, passport, two_ids のいずれか",
        )
    })?;
    let attendees = crate::domain::text::normalize(&input.attendees);
    if !attendees.is_empty() && !input.attendees_consented {
        return Err(invalid(
            "attendees_consented",
            "同席者について患者の同意を確認してください (the patient must agree to those present)",
        ));
    }
    let url = input.meeting_url.trim();
    let valid_url = url::Url::parse(url)
        .ok()
        .filter(|u| u.scheme() == "https" && u.host_str().is_some());
    if valid_url.is_none() {
        return Err(invalid(
            "meeting_url",
            "https:// で始まる会議のURL (an https meeting link)",
        ));
    }
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| -> Result<Session, GuidanceError> {
        let s = open_session(c, pharmacy_id, id)?;
        if s.needs_review() {
            return Err(GuidanceError::WrongState(format!(
                "初診の確認が済んでいません: {} (first-visit review pending)",
                s.review_reasons
            )));
        }
        if !super::consents::has_guidance_consent(c, pharmacy_id, &s.patient_id)? {
            return Err(GuidanceError::WrongState(
                "オンライン服薬指導への同意が記録されていません (no consent to online guidance)"
                    .into(),
            ));
        }
        let known = known_patient(c, pharmacy_id, &s.patient_id, s.prescription_id.as_deref())?;
        if !identity.enough_for(!known) {
            return Err(invalid(
                "identity_check",
                "初めての患者は身分証で本人確認してください (a new patient shows an ID)",
            ));
        }
        diesel::update(guidance_sessions::table.find((pharmacy_id, id)))
            .set((
                guidance_sessions::identity_check.eq(Some(identity.as_str())),
                guidance_sessions::attendees.eq(&attendees),
                guidance_sessions::meeting_url.eq(Some(url)),
                guidance_sessions::started_at.eq(Some(now)),
                guidance_sessions::ended_at.eq(None::<NaiveDateTime>),
                guidance_sessions::outcome.eq(None::<String>),
                guidance_sessions::fallback.eq(None::<String>),
                guidance_sessions::version.eq(s.version + 1),
                guidance_sessions::updated_at.eq(now),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.started")
                .subject("guidance_session", id)
                .detail(format!(
                    "identity {}; present: {}",
                    identity.as_str(),
                    if attendees.is_empty() {
                        "本人のみ"
                    } else {
                        &attendees
                    }
                )),
        )?;
        Ok(load_session(c, pharmacy_id, id)?)
    })
}

/// How a session ended, as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct FinishInput {
    /// completed, no_answer or connection_failed
    pub outcome: String,
    /// For a failed session: retry, reschedule or in_person.
    pub fallback: Option<String>,
    pub note: String,
}

/// Records how a session ended (pharmacists; audited).
pub fn finish(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    input: &FinishInput,
) -> Result<Session, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "guidance.finished",
        Some(("guidance_session", id)),
    )?;
    let outcome = Outcome::parse(&input.outcome).ok_or_else(|| {
        invalid(
            "outcome",
            "completed, no_answer, connection_failed のいずれか",
        )
    })?;
    let fallback = match input.fallback.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(f) => Some(
            Fallback::parse(f)
                .ok_or_else(|| invalid("fallback", "retry, reschedule, in_person のいずれか"))?,
        ),
    };
    let note = crate::domain::text::normalize(&input.note);
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| -> Result<Session, GuidanceError> {
        let s = open_session(c, pharmacy_id, id)?;
        if let Some(why) = outcome_refusal(
            outcome,
            fallback,
            s.started_at.is_some(),
            s.identity_check.is_some(),
        ) {
            return Err(invalid(
                if outcome == Outcome::Completed {
                    "outcome"
                } else {
                    "fallback"
                },
                why,
            ));
        }
        diesel::update(guidance_sessions::table.find((pharmacy_id, id)))
            .set((
                guidance_sessions::ended_at.eq(s.started_at.map(|_| now)),
                guidance_sessions::outcome.eq(Some(outcome.as_str())),
                guidance_sessions::fallback.eq(fallback.map(|f| f.as_str())),
                guidance_sessions::outcome_note.eq(&note),
                guidance_sessions::version.eq(s.version + 1),
                guidance_sessions::updated_at.eq(now),
            ))
            .execute(c)?;
        if outcome == Outcome::Completed {
            notify::drop_unsent(c, pharmacy_id, id)?;
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.finished")
                .subject("guidance_session", id)
                .detail(format!(
                    "{}{}{}",
                    outcome.as_str(),
                    fallback
                        .map(|f| format!(" → {}", f.as_str()))
                        .unwrap_or_default(),
                    if note.is_empty() {
                        String::new()
                    } else {
                        format!("; {note}")
                    }
                )),
        )?;
        Ok(load_session(c, pharmacy_id, id)?)
    })
}

/// A pharmacist reviews a flagged first visit (audited; a note is required).
pub fn review(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    note: &str,
) -> Result<Session, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "guidance.reviewed",
        Some(("guidance_session", id)),
    )?;
    let note = crate::domain::text::normalize(note);
    if note.is_empty() {
        return Err(invalid(
            "note",
            "確認内容を入力してください (note required)",
        ));
    }
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| -> Result<Session, GuidanceError> {
        let s = open_session(c, pharmacy_id, id)?;
        if !s.needs_review() {
            return Err(GuidanceError::WrongState(
                "確認が必要なセッションではありません (no review pending)".into(),
            ));
        }
        diesel::update(guidance_sessions::table.find((pharmacy_id, id)))
            .set((
                guidance_sessions::reviewed_by.eq(Some(&ctx.actor.name)),
                guidance_sessions::review_note.eq(&note),
                guidance_sessions::version.eq(s.version + 1),
                guidance_sessions::updated_at.eq(now),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.reviewed")
                .subject("guidance_session", id)
                .detail(format!("{}; {note}", s.review_reasons)),
        )?;
        Ok(load_session(c, pharmacy_id, id)?)
    })
}

/// The delivery rule: a prescription's drugs may leave the pharmacy only once a
/// guidance session for it is completed.
pub fn guidance_completed(
    c: &mut DbConnection,
    pharmacy_id: &str,
    prescription_id: &str,
) -> QueryResult<bool> {
    let n: i64 = guidance_sessions::table
        .filter(guidance_sessions::pharmacy_id.eq(pharmacy_id))
        .filter(guidance_sessions::prescription_id.eq(prescription_id))
        .filter(guidance_sessions::status.eq("booked"))
        .filter(guidance_sessions::outcome.eq("completed"))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// [`guidance_completed`] for staff (an audited read of the prescription).
pub fn completed_for(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    prescription_id: &str,
) -> Result<bool, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "guidance.state_read",
        Some(("prescription", prescription_id)),
    )?;
    let done = guidance_completed(conn, pharmacy_id, prescription_id)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "guidance.state_read")
            .subject("prescription", prescription_id),
    )?;
    Ok(done)
}
