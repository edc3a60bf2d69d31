//! Registering dispensing results (調剤結果登録) with the national service through
//! the durable job queue: queued in the dispensing transaction, retried while the
//! terminal or the service does not answer, stopped (and shown to staff) when the
//! service refuses. Each job keeps one `ArbitraryFileIdentifier` across attempts, so
//! a request the service already answered is answered the same way again.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::gateway::{Gateway, GatewayError};
use super::{keep_message, EpsError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{
    dispensed_items, eps_claims, eps_prescriptions, jobs, patients, pharmacies, prescription_items,
    prescriptions,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::dispensing::{result_payload, ResultItem};
use crate::domain::eps::messages::{Operation, Request};
use crate::domain::role::Permission;
use crate::jobs::worker::{Attempted, Handler};
use crate::jobs::{Final, Job};
use crate::prescriptions::REGISTER_RESULT_JOB;

/// (RP, 連番, prescribed code, given code, name, quantity, substituted, lot, expiry, date)
type ResultRow = (
    i32,
    i32,
    String,
    String,
    String,
    String,
    bool,
    Option<String>,
    Option<chrono::NaiveDate>,
    chrono::NaiveDate,
);

/// (prescription, patient name, 引換番号, state, error, job, dispensed at)
type PendingRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<NaiveDateTime>,
);

/// The job handler.
pub struct RegisterResult {
    pub gateway: Gateway,
}

fn prescription_of(job: &Job) -> String {
    serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|v| v["prescription_id"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Builds the result request for a dispensed e-prescription.
pub fn build_request(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    rx_id: &str,
    file_id: &str,
) -> QueryResult<Option<Request>> {
    let Some(rec) = crate::prescriptions::eps_record(conn, pharmacy_id, rx_id)? else {
        return Ok(None);
    };
    let code: String = pharmacies::table
        .find(pharmacy_id)
        .select(pharmacies::code)
        .first(conn)?;
    let rows: Vec<ResultRow> = dispensed_items::table
        .inner_join(
            prescription_items::table.on(prescription_items::pharmacy_id
                .eq(dispensed_items::pharmacy_id)
                .and(prescription_items::prescription_id.eq(dispensed_items::prescription_id))
                .and(prescription_items::id.eq(dispensed_items::item_id))),
        )
        .filter(dispensed_items::pharmacy_id.eq(pharmacy_id))
        .filter(dispensed_items::prescription_id.eq(rx_id))
        .order((
            prescription_items::rp_number.asc(),
            prescription_items::seq.asc(),
        ))
        .select((
            prescription_items::rp_number,
            prescription_items::seq,
            prescription_items::drug_code,
            dispensed_items::drug_code,
            dispensed_items::drug_name,
            dispensed_items::quantity,
            dispensed_items::substituted,
            dispensed_items::lot_number,
            dispensed_items::lot_expiry,
            dispensed_items::dispensed_on,
        ))
        .load(conn)?;
    let on = rows.first().map(|r| r.9).unwrap_or_default();
    let items: Vec<ResultItem> = rows
        .into_iter()
        .map(|r| ResultItem {
            rp: r.0,
            seq: r.1,
            prescribed_code: r.2,
            dispensed_code: r.3,
            name: r.4,
            quantity: r.5,
            substituted: r.6,
            lot_number: r.7,
            lot_expiry: r.8,
        })
        .collect();
    Ok(Some(Request {
        operation: Operation::RegisterResult,
        institution_code: code,
        file_id: file_id.into(),
        body: vec![
            ("PrescriptionId".into(), rec.eps_id.clone()),
            (
                "DispensingResultCsv".into(),
                result_payload(
                    &rec.eps_id,
                    on,
                    &items,
                    rec.message_to_prescriber.as_deref(),
                ),
            ),
        ],
    }))
}

impl Handler for RegisterResult {
    fn kind(&self) -> &'static str {
        REGISTER_RESULT_JOB
    }

    fn run(&self, conn: &mut DbConnection, job: &Job) -> Attempted {
        let rx_id = prescription_of(job);
        // One file id per job: a re-sent request gets the service's first answer.
        let file_id = format!("res{}", job.id.replace('-', ""));
        let req = match build_request(conn, &job.pharmacy_id, &rx_id, &file_id) {
            Ok(Some(r)) => r,
            Ok(None) => return Attempted::Permanent(format!("no e-prescription {rx_id}")),
            Err(e) => return Attempted::Temporary(format!("database: {e}")),
        };
        match self.gateway.call(&req) {
            Ok(r) => match r.error() {
                None => Attempted::Done(format!(
                    "電子処方箋管理サービス: {}",
                    r.prescription_status.unwrap_or_else(|| "調剤済".into())
                )),
                Some(kind) => Attempted::Permanent(format!("{} ({})", kind.message(), kind.code())),
            },
            Err(e @ GatewayError::Malformed { .. }) => {
                if let GatewayError::Malformed { message, raw, .. } = &e {
                    let _ = keep_message(
                        conn,
                        &job.pharmacy_id,
                        Operation::RegisterResult.message_type(),
                        &file_id,
                        message,
                        raw,
                        Utc::now().naive_utc(),
                    );
                }
                Attempted::Permanent(e.to_string())
            }
            Err(e) => Attempted::Temporary(e.to_string()),
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
        let rx_id = prescription_of(job);
        let key = (&job.pharmacy_id, &rx_id);
        let now = ctx.now.naive_utc();
        let pharmacy = Some(job.pharmacy_id.as_str());
        match result {
            Final::Done { detail } => {
                let access_code: Option<String> = eps_prescriptions::table
                    .find(key)
                    .select(eps_prescriptions::access_code)
                    .first(conn)
                    .optional()?;
                diesel::update(eps_prescriptions::table.find(key))
                    .set((
                        eps_prescriptions::state.eq("registered"),
                        eps_prescriptions::eps_status.eq("調剤済"),
                        eps_prescriptions::registered_at.eq(Some(now)),
                        eps_prescriptions::result_error.eq(None::<String>),
                        eps_prescriptions::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                if let Some(code) = access_code {
                    diesel::delete(eps_claims::table.find((&job.pharmacy_id, code)))
                        .execute(conn)?;
                }
                audit::record(
                    conn,
                    ctx,
                    Event::ok(pharmacy, "eps.result_registered")
                        .subject("prescription", &rx_id)
                        .detail(detail.clone()),
                )
            }
            _ if !held => Ok(()),
            Final::Retry { at, error } => {
                diesel::update(eps_prescriptions::table.find(key))
                    .set((
                        eps_prescriptions::result_error.eq(Some(format!(
                            "{error}（再試行 {}）",
                            crate::context::jst(at.naive_utc()).format("%m/%d %H:%M")
                        ))),
                        eps_prescriptions::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                audit::record(
                    conn,
                    ctx,
                    Event::failed(pharmacy, "eps.result_retry_scheduled")
                        .subject("prescription", &rx_id)
                        .detail(error.clone()),
                )
            }
            Final::Failed { error } | Final::Dead { error } => {
                diesel::update(eps_prescriptions::table.find(key))
                    .set((
                        eps_prescriptions::state.eq("registration_failed"),
                        eps_prescriptions::result_error.eq(Some(error)),
                        eps_prescriptions::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                audit::record(
                    conn,
                    ctx,
                    Event::failed(pharmacy, "eps.result_failed")
                        .subject("prescription", &rx_id)
                        .detail(error.clone()),
                )
            }
        }
    }
}

/// A dispensing result not yet acknowledged by the service.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingResult {
    pub prescription_id: String,
    pub patient_name: String,
    /// 引換番号
    pub access_code: String,
    /// result_pending or registration_failed
    pub state: String,
    pub last_error: Option<String>,
    pub attempts: i32,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<NaiveDateTime>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub dispensed_at: Option<NaiveDateTime>,
}

/// Results waiting for registration (oldest first; audited read).
pub fn pending(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
) -> Result<Vec<PendingResult>, EpsError> {
    crate::authz::require::<EpsError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "eps.pending_listed",
        None,
    )?;
    let rows: Vec<PendingRow> = eps_prescriptions::table
        .inner_join(
            prescriptions::table.on(prescriptions::pharmacy_id
                .eq(eps_prescriptions::pharmacy_id)
                .and(prescriptions::id.eq(eps_prescriptions::prescription_id))),
        )
        .inner_join(
            patients::table.on(patients::pharmacy_id
                .eq(prescriptions::pharmacy_id)
                .and(patients::id.eq(prescriptions::patient_id))),
        )
        .filter(eps_prescriptions::pharmacy_id.eq(pharmacy_id))
        .filter(eps_prescriptions::state.eq_any(["result_pending", "registration_failed"]))
        .order(prescriptions::dispensed_at.asc())
        .limit(500)
        .select((
            eps_prescriptions::prescription_id,
            patients::name_kanji,
            eps_prescriptions::access_code,
            eps_prescriptions::state,
            eps_prescriptions::result_error,
            eps_prescriptions::result_job_id,
            prescriptions::dispensed_at,
        ))
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (rx, name, code, state, error, job, dispensed_at) in rows {
        let (attempts, next) = match &job {
            Some(j) => jobs::table
                .find((pharmacy_id, j))
                .select((jobs::attempts, jobs::run_at, jobs::status))
                .first::<(i32, NaiveDateTime, String)>(conn)
                .optional()?
                .map(|(a, r, s)| (a, (s == "pending").then_some(r)))
                .unwrap_or((0, None)),
            None => (0, None),
        };
        out.push(PendingResult {
            prescription_id: rx,
            patient_name: name,
            access_code: code,
            state,
            last_error: error,
            attempts,
            next_attempt_at: next,
            dispensed_at,
        });
    }
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "eps.pending_listed").detail(format!("rows: {}", out.len())),
    )?;
    Ok(out)
}

/// Queues a failed registration again (after staff fixed the cause).
pub fn retry(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    dead_after: chrono::Duration,
) -> Result<(), EpsError> {
    crate::authz::require::<EpsError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "eps.result_requeued",
        Some(("prescription", rx_id)),
    )?;
    let now: DateTime<Utc> = ctx.now;
    write_transaction(conn, |c| {
        let rec =
            crate::prescriptions::eps_record(c, pharmacy_id, rx_id)?.ok_or(EpsError::NotFound)?;
        let job = match (&rec.state[..], &rec.result_job_id) {
            ("registration_failed", Some(j)) => j.clone(),
            _ => return Err(EpsError::WrongState(format!("the result is {}", rec.state))),
        };
        if !crate::jobs::requeue(c, pharmacy_id, &job, now, dead_after)? {
            return Err(EpsError::WrongState(
                "the registration job is still running".into(),
            ));
        }
        diesel::update(eps_prescriptions::table.find((pharmacy_id, rx_id)))
            .set((
                eps_prescriptions::state.eq("result_pending"),
                eps_prescriptions::updated_at.eq(now.naive_utc()),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "eps.result_requeued").subject("prescription", rx_id),
        )?;
        Ok(())
    })
}
