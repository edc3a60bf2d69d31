//! The online-qualification side of the national services (DOMAIN.md §4) through
//! the OQS terminal: bulk eligibility of consented patients by pharmacy code,
//! consent date and visit date (a durable job sends the request, receives the
//! 受付番号 and fetches the result later, asking again while it is being made), and
//! the patient's drug information (薬剤情報), asked only inside a viewing consent's
//! window — outside it the request is refused here, audited, and never sent. The
//! lines fetched become a source of the medication checks.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{invalid, GuidanceError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{eligibility_requests, guidance_consents, patients, pharmacies};
use crate::db::{write_transaction, DbConnection};
use crate::domain::eps::messages::{record_field, Operation, Request, Response};
use crate::domain::guidance::consent::ConsentKind;
use crate::domain::role::Permission;
use crate::eps::gateway::{Gateway, GatewayError};
use crate::jobs::worker::{Attempted, Handler};
use crate::jobs::{Final, Job, NewJob};

mod drug_info;

pub use drug_info::{fetch_drug_information, DrugInfoLine};

/// The job kind that fetches a bulk eligibility result.
pub const ELIGIBILITY_JOB: &str = "eligibility_fetch";

/// A bulk eligibility request and, once fetched, its result.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = eligibility_requests)]
pub struct EligibilityRequest {
    pub id: String,
    pub consent_date: NaiveDate,
    pub visit_date: NaiveDate,
    /// 受付番号
    pub receipt_number: Option<String>,
    /// requested, received or failed
    pub status: String,
    /// JSON list of the eligibility lines.
    pub result: String,
    /// Lines matched to patients of the pharmacy (their viewing consents confirmed).
    pub matched: i32,
    pub error: Option<String>,
    pub requested_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: NaiveDateTime,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub fetched_at: Option<NaiveDateTime>,
}

/// A bulk request as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct EligibilityInput {
    /// Consents given on or after this day (YYYY-MM-DD).
    pub consent_date: String,
    /// For visits (guidance) on this day (YYYY-MM-DD).
    pub visit_date: String,
}

fn date(field: &str, s: &str) -> Result<NaiveDate, GuidanceError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| invalid(field, "YYYY-MM-DD"))
}

/// Queues a bulk eligibility request (clerks and pharmacists; audited): the job
/// sends it when the terminal is reachable and fetches the result later. Without
/// a configured terminal nothing would ever send it, so it is refused.
pub fn request_eligibility(
    conn: &mut DbConnection,
    ctx: &Ctx,
    dead_after: chrono::Duration,
    gateway_configured: bool,
    pharmacy_id: &str,
    input: &EligibilityInput,
) -> Result<EligibilityRequest, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "guidance.eligibility_requested",
        None,
    )?;
    if !gateway_configured {
        return Err(GuidanceError::NotConfigured);
    }
    let consent_date = date("consent_date", &input.consent_date)?;
    let visit_date = date("visit_date", &input.visit_date)?;
    if visit_date < consent_date {
        return Err(invalid(
            "visit_date",
            "来局予定日は同意日以降 (the visit is on or after the consent)",
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| -> Result<EligibilityRequest, GuidanceError> {
        diesel::insert_into(eligibility_requests::table)
            .values((
                eligibility_requests::pharmacy_id.eq(pharmacy_id),
                eligibility_requests::id.eq(&id),
                eligibility_requests::consent_date.eq(consent_date),
                eligibility_requests::visit_date.eq(visit_date),
                eligibility_requests::status.eq("requested"),
                eligibility_requests::requested_by.eq(&ctx.actor.name),
                eligibility_requests::requested_at.eq(now),
            ))
            .execute(c)?;
        let job = crate::jobs::enqueue(
            c,
            ctx.now,
            dead_after,
            NewJob {
                pharmacy_id,
                kind: ELIGIBILITY_JOB,
                subject_id: Some(&id),
                payload: serde_json::json!({ "request_id": id }),
                run_at: ctx.now,
            },
        )?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.eligibility_requested")
                .subject("eligibility_request", &id)
                .detail(format!(
                    "consent {consent_date}, visit {visit_date}; job {job}"
                )),
        )?;
        Ok(load_request(c, pharmacy_id, &id)?)
    })
}

fn load_request(
    c: &mut DbConnection,
    pharmacy_id: &str,
    id: &str,
) -> QueryResult<EligibilityRequest> {
    eligibility_requests::table
        .find((pharmacy_id, id))
        .select(EligibilityRequest::as_select())
        .first(c)
}

/// The pharmacy's eligibility requests, newest first (audited read).
pub fn eligibility_requests(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
) -> Result<Vec<EligibilityRequest>, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "guidance.eligibility_read",
        None,
    )?;
    let rows = eligibility_requests::table
        .filter(eligibility_requests::pharmacy_id.eq(pharmacy_id))
        .order(eligibility_requests::id.desc())
        .limit(50)
        .select(EligibilityRequest::as_select())
        .load(conn)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "guidance.eligibility_read"),
    )?;
    Ok(rows)
}

/// The job: request (same file id on every attempt, so the service gives the same
/// 受付番号) and fetch the result; "processing" is a temporary failure.
pub struct FetchEligibility {
    pub gateway: Gateway,
}

fn request_of(job: &Job) -> String {
    serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|v| v["request_id"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn answer_error(r: &Response) -> Option<String> {
    r.error().map(|k| format!("{} ({})", k.message(), k.code()))
}

impl Handler for FetchEligibility {
    fn kind(&self) -> &'static str {
        ELIGIBILITY_JOB
    }

    fn run(&self, conn: &mut DbConnection, job: &Job) -> Attempted {
        let id = request_of(job);
        let found = eligibility_requests::table
            .find((&job.pharmacy_id, &id))
            .select(EligibilityRequest::as_select())
            .first(conn)
            .optional();
        let code: QueryResult<String> = pharmacies::table
            .find(&job.pharmacy_id)
            .select(pharmacies::code)
            .first(conn);
        let (req, code) = match (found, code) {
            (Ok(Some(r)), Ok(code)) => (r, code),
            (Ok(None), _) => return Attempted::Permanent(format!("no eligibility request {id}")),
            (Err(e), _) | (_, Err(e)) => return Attempted::Temporary(format!("database: {e}")),
        };
        let key = job.id.replace('-', "");
        let ask = Request {
            operation: Operation::EligibilityRequest,
            institution_code: code.clone(),
            file_id: format!("elq{key}"),
            body: vec![
                (
                    "ConsentDate".into(),
                    req.consent_date.format("%Y%m%d").to_string(),
                ),
                (
                    "VisitDate".into(),
                    req.visit_date.format("%Y%m%d").to_string(),
                ),
            ],
        };
        let receipt = match self.gateway.call(&ask) {
            Ok(r) => match (answer_error(&r), r.receipt_number) {
                (Some(e), _) => return Attempted::Permanent(e),
                (None, Some(n)) => n,
                (None, None) => {
                    return Attempted::Permanent("受付番号がありません (no receipt number)".into())
                }
            },
            Err(e) => return gateway_failure(e),
        };
        let fetch = Request {
            operation: Operation::EligibilityFetch,
            institution_code: code,
            file_id: format!("elg{key}a{}", job.attempts),
            body: vec![("ReceiptNumber".into(), receipt.clone())],
        };
        match self.gateway.call(&fetch) {
            Ok(r) => match answer_error(&r) {
                Some(e) => Attempted::Permanent(e),
                None => Attempted::Done(
                    serde_json::json!({ "receipt": receipt, "lines": r.records }).to_string(),
                ),
            },
            Err(e) => gateway_failure(e),
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
        let id = request_of(job);
        let key = (&job.pharmacy_id, &id);
        let now = ctx.now.naive_utc();
        let pharmacy = Some(job.pharmacy_id.as_str());
        match result {
            Final::Done { detail } => {
                let v: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
                let lines: Vec<Vec<(String, String)>> =
                    serde_json::from_value(v["lines"].clone()).unwrap_or_default();
                let matched = confirm_consents(conn, &job.pharmacy_id, &lines, now)?;
                diesel::update(eligibility_requests::table.find(key))
                    .set((
                        eligibility_requests::status.eq("received"),
                        eligibility_requests::receipt_number.eq(v["receipt"].as_str()),
                        eligibility_requests::result
                            .eq(serde_json::to_string(&lines).unwrap_or_default()),
                        eligibility_requests::matched.eq(matched as i32),
                        eligibility_requests::error.eq(None::<String>),
                        eligibility_requests::fetched_at.eq(Some(now)),
                    ))
                    .execute(conn)?;
                audit::record(
                    conn,
                    ctx,
                    Event::ok(pharmacy, "guidance.eligibility_received")
                        .subject("eligibility_request", &id)
                        .detail(format!("{} line(s), {matched} matched", lines.len())),
                )
            }
            _ if !held => Ok(()),
            Final::Retry { error, .. } => {
                diesel::update(eligibility_requests::table.find(key))
                    .set(eligibility_requests::error.eq(Some(error)))
                    .execute(conn)?;
                Ok(())
            }
            Final::Failed { error } | Final::Dead { error } => {
                diesel::update(eligibility_requests::table.find(key))
                    .set((
                        eligibility_requests::status.eq("failed"),
                        eligibility_requests::error.eq(Some(error)),
                    ))
                    .execute(conn)?;
                audit::record(
                    conn,
                    ctx,
                    Event::failed(pharmacy, "guidance.eligibility_failed")
                        .subject("eligibility_request", &id)
                        .detail(error.clone()),
                )
            }
        }
    }
}

fn gateway_failure(e: GatewayError) -> Attempted {
    if e.is_temporary() {
        Attempted::Temporary(e.to_string())
    } else {
        Attempted::Permanent(e.to_string())
    }
}

/// Marks the open viewing consents of the patients in `lines` as seen by the
/// national services. Returns how many lines matched a patient.
fn confirm_consents(
    c: &mut DbConnection,
    pharmacy_id: &str,
    lines: &[Vec<(String, String)>],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut matched = 0;
    for line in lines {
        let f = |k: &str| record_field(line, k).unwrap_or_default().to_string();
        let Ok(birth) = NaiveDate::parse_from_str(&f("BirthDate"), "%Y%m%d") else {
            continue;
        };
        let ids: Vec<String> = patients::table
            .filter(patients::pharmacy_id.eq(pharmacy_id))
            .filter(patients::insurer_number.eq(f("InsurerNumber")))
            .filter(patients::insured_number.eq(f("InsuredNumber")))
            .filter(patients::birth_date.eq(birth))
            .select(patients::id)
            .load(c)?;
        if ids.is_empty() {
            continue;
        }
        matched += 1;
        diesel::update(
            guidance_consents::table
                .filter(guidance_consents::pharmacy_id.eq(pharmacy_id))
                .filter(guidance_consents::patient_id.eq_any(&ids))
                .filter(guidance_consents::kind.eq(ConsentKind::QualificationViewing.as_str()))
                .filter(guidance_consents::ended_at.is_null()),
        )
        .set(guidance_consents::confirmed_at.eq(Some(now)))
        .execute(c)?;
    }
    Ok(matched)
}
