//! Guidance records (薬剤服用歴): written and signed by a pharmacist after a
//! completed session, then never changed — the table refuses UPDATE and DELETE,
//! and a correction is a new version with its reason. Every version is kept; the
//! record is retained 3 years from its last entry.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::{load_session, GuidanceError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::backend::is_unique_violation;
use crate::db::schema::{guidance_records, users};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::record::{retain_until, RecordFields, RecordInput};
use crate::domain::role::Permission;

/// One signed version of a guidance record.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = guidance_records)]
pub struct GuidanceRecord {
    pub id: String,
    pub session_id: String,
    pub patient_id: String,
    pub version: i32,
    pub subjective: String,
    pub objective: String,
    pub assessment: String,
    pub plan: String,
    /// Topics covered, one per line.
    pub topics: String,
    pub adherence: String,
    /// 残薬
    pub leftover: String,
    pub side_effects: String,
    pub follow_up_on: Option<chrono::NaiveDate>,
    pub correction_reason: Option<String>,
    pub signed_by: String,
    pub signed_by_name: String,
    #[schema(value_type = String, format = DateTime)]
    pub signed_at: NaiveDateTime,
    pub retain_until: chrono::NaiveDate,
}

/// The versions of a session's record, oldest first (no audit: callers audit).
pub(crate) fn versions_of(
    c: &mut DbConnection,
    pharmacy_id: &str,
    session_id: &str,
) -> QueryResult<Vec<GuidanceRecord>> {
    guidance_records::table
        .filter(guidance_records::pharmacy_id.eq(pharmacy_id))
        .filter(guidance_records::session_id.eq(session_id))
        .order(guidance_records::version.asc())
        .select(GuidanceRecord::as_select())
        .load(c)
}

/// Signs the record of a completed session: the first version, or a correction
/// (a new version, which needs its reason). Pharmacists only; audited.
pub fn sign(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    session_id: &str,
    input: &RecordInput,
) -> Result<GuidanceRecord, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "guidance.record_signed",
        Some(("guidance_session", session_id)),
    )?;
    let today = ctx.today();
    let now = ctx.now.naive_utc();
    let outcome = write_transaction(conn, |c| -> Result<GuidanceRecord, GuidanceError> {
        let s = load_session(c, pharmacy_id, session_id)
            .optional()?
            .ok_or(GuidanceError::NotFound)?;
        if !s.completed() {
            return Err(GuidanceError::WrongState(
                "完了したセッションの記録のみ署名できます (the session is not completed)".into(),
            ));
        }
        let last: Option<i32> = guidance_records::table
            .filter(guidance_records::pharmacy_id.eq(pharmacy_id))
            .filter(guidance_records::session_id.eq(session_id))
            .select(diesel::dsl::max(guidance_records::version))
            .first(c)?;
        let version = last.unwrap_or(0) + 1;
        let fields =
            RecordFields::parse(input, version > 1, today).map_err(GuidanceError::Invalid)?;
        let user_id = ctx
            .actor
            .user_id
            .clone()
            .unwrap_or_else(|| ctx.actor.name.clone());
        let name: String = users::table
            .find(&user_id)
            .select(users::display_name)
            .first(c)
            .optional()?
            .unwrap_or_else(|| ctx.actor.name.clone());
        let id = uuid::Uuid::now_v7().to_string();
        diesel::insert_into(guidance_records::table)
            .values((
                guidance_records::pharmacy_id.eq(pharmacy_id),
                guidance_records::id.eq(&id),
                guidance_records::session_id.eq(session_id),
                guidance_records::patient_id.eq(&s.patient_id),
                guidance_records::version.eq(version),
                guidance_records::subjective.eq(&fields.subjective),
                guidance_records::objective.eq(&fields.objective),
                guidance_records::assessment.eq(&fields.assessment),
                guidance_records::plan.eq(&fields.plan),
                guidance_records::topics.eq(fields.topics.join("\n")),
                guidance_records::adherence.eq(fields.adherence.as_str()),
                guidance_records::leftover.eq(&fields.leftover),
                guidance_records::side_effects.eq(&fields.side_effects),
                guidance_records::follow_up_on.eq(fields.follow_up_on),
                guidance_records::correction_reason.eq(&fields.correction_reason),
                guidance_records::signed_by.eq(&user_id),
                guidance_records::signed_by_name.eq(&name),
                guidance_records::signed_at.eq(now),
                guidance_records::retain_until.eq(retain_until(today)),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.record_signed")
                .subject("guidance_session", session_id)
                .detail(match &fields.correction_reason {
                    Some(r) => format!("version {version} (correction: {r})"),
                    None => format!("version {version}"),
                }),
        )?;
        Ok(guidance_records::table
            .find((pharmacy_id, &id))
            .select(GuidanceRecord::as_select())
            .first(c)?)
    });
    match outcome {
        Err(GuidanceError::Db(e)) if is_unique_violation(&e) => Err(GuidanceError::WrongState(
            "同時に別の版が署名されました。最新の版を確認してください (another version was signed meanwhile)".into(),
        )),
        other => other,
    }
}

/// Every version of a session's record (audited read).
pub fn versions(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    session_id: &str,
) -> Result<Vec<GuidanceRecord>, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "guidance.record_read",
        Some(("guidance_session", session_id)),
    )?;
    let rows = versions_of(conn, pharmacy_id, session_id)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "guidance.record_read")
            .subject("guidance_session", session_id),
    )?;
    Ok(rows)
}
