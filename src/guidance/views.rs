//! What staff read: a pharmacy's (or one pharmacist's) sessions of a day with
//! their prescriptions and consent state, and one session in full — consents,
//! record versions and the drug information fetched. Reads are audited.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::consents::Consent;
use super::qualification::DrugInfoLine;
use super::records::GuidanceRecord;
use super::{load_session, to_local, to_utc, GuidanceError, Session};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{drug_information, guidance_records, guidance_sessions, patients, users};
use crate::db::DbConnection;
use crate::domain::guidance::consent::ConsentKind;
use crate::domain::role::Permission;

/// One session of the day view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayLine {
    pub session: Session,
    /// Japan time.
    #[schema(value_type = String, format = DateTime)]
    pub starts_local: NaiveDateTime,
    pub patient_name: String,
    pub pharmacist_name: String,
    /// The patient consented to online guidance.
    pub guidance_consent: bool,
    /// The viewing consent at the start of the session: 「有効（〜11/25）」, 「なし」, ...
    pub viewing_consent: String,
    /// Signed record versions.
    pub record_versions: i64,
}

fn viewing_state(consents: &[Consent], at: NaiveDateTime) -> String {
    let viewing: Vec<&Consent> = consents
        .iter()
        .filter(|k| k.kind == ConsentKind::QualificationViewing.as_str())
        .collect();
    if let Some(k) = viewing.iter().find(|k| k.refusal(at).is_none()) {
        let until = k.valid_until.map(to_local).unwrap_or_default();
        return format!("有効（〜{}）", until.format("%m/%d"));
    }
    match viewing.first() {
        Some(k) if k.ended_at.is_some() => "終了（予約取消）".into(),
        Some(_) => "期間外".into(),
        None => "なし".into(),
    }
}

fn names(c: &mut DbConnection, pharmacy_id: &str, s: &Session) -> QueryResult<(String, String)> {
    let patient: String = patients::table
        .find((pharmacy_id, &s.patient_id))
        .select(patients::name_kanji)
        .first(c)?;
    let pharmacist: String = users::table
        .find(&s.pharmacist_id)
        .select(users::display_name)
        .first(c)
        .optional()?
        .unwrap_or_default();
    Ok((patient, pharmacist))
}

/// The sessions of `day` (Japan time), of one pharmacist or all (audited read).
pub fn day(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    day: NaiveDate,
    pharmacist_id: Option<&str>,
) -> Result<Vec<DayLine>, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "guidance.day_read",
        None,
    )?;
    let from = to_utc(day.and_hms_opt(0, 0, 0).unwrap_or_default());
    let mut q = guidance_sessions::table
        .filter(guidance_sessions::pharmacy_id.eq(pharmacy_id))
        .filter(guidance_sessions::starts_at.ge(from))
        .filter(guidance_sessions::starts_at.lt(from + Duration::days(1)))
        .into_boxed();
    if let Some(p) = pharmacist_id {
        q = q.filter(guidance_sessions::pharmacist_id.eq(p));
    }
    let sessions: Vec<Session> = q
        .order(guidance_sessions::starts_at.asc())
        .select(Session::as_select())
        .load(conn)?;
    let mut out = Vec::with_capacity(sessions.len());
    for s in sessions {
        let (patient_name, pharmacist_name) = names(conn, pharmacy_id, &s)?;
        let consents = super::consents::of_patient(conn, pharmacy_id, &s.patient_id)?;
        let record_versions: i64 = guidance_records::table
            .filter(guidance_records::pharmacy_id.eq(pharmacy_id))
            .filter(guidance_records::session_id.eq(&s.id))
            .count()
            .get_result(conn)?;
        out.push(DayLine {
            starts_local: to_local(s.starts_at),
            patient_name,
            pharmacist_name,
            guidance_consent: consents
                .iter()
                .any(|k| k.kind == ConsentKind::OnlineGuidance.as_str() && k.ended_at.is_none()),
            viewing_consent: viewing_state(&consents, s.starts_at),
            record_versions,
            session: s,
        });
    }
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "guidance.day_read").detail(day.to_string()),
    )?;
    Ok(out)
}

/// One session in full.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionDetail {
    pub session: Session,
    #[schema(value_type = String, format = DateTime)]
    pub starts_local: NaiveDateTime,
    pub patient_name: String,
    pub pharmacist_name: String,
    pub viewing_consent: String,
    pub consents: Vec<Consent>,
    /// Every signed version, oldest first.
    pub records: Vec<GuidanceRecord>,
    /// The patient's national drug information fetched so far, newest first.
    pub drug_information: Vec<DrugInfoLine>,
}

/// One session with its consents, record versions and drug information (audited read).
pub fn detail(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<SessionDetail, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "guidance.session_read",
        Some(("guidance_session", id)),
    )?;
    let session = load_session(conn, pharmacy_id, id)
        .optional()?
        .ok_or(GuidanceError::NotFound)?;
    let (patient_name, pharmacist_name) = names(conn, pharmacy_id, &session)?;
    let consents = super::consents::of_patient(conn, pharmacy_id, &session.patient_id)?;
    let records = super::records::versions_of(conn, pharmacy_id, id)?;
    let drug_information = drug_information::table
        .filter(drug_information::pharmacy_id.eq(pharmacy_id))
        .filter(drug_information::patient_id.eq(&session.patient_id))
        .order((
            drug_information::fetched_at.desc(),
            drug_information::dispensed_on.desc(),
        ))
        .limit(200)
        .select(DrugInfoLine::as_select())
        .load(conn)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "guidance.session_read").subject("guidance_session", id),
    )?;
    Ok(SessionDetail {
        starts_local: to_local(session.starts_at),
        viewing_consent: viewing_state(&consents, ctx.now.naive_utc()),
        patient_name,
        pharmacist_name,
        consents,
        records,
        drug_information,
        session,
    })
}
