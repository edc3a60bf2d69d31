//! Accepting an e-prescription by 引換番号 (受付). What happens afterwards at the
//! service (cancel, reject, status, cancelling a result) is in `lifecycle`.
//!
//! Accepting takes three steps, because the service call may take seconds and must
//! not hold a database transaction: a claim row (one per pharmacy and 引換番号)
//! is written first, so a second member of staff entering the same code at the same
//! moment is told who has it; then the terminal is asked; then the prescription,
//! its checks (local and the service's own) and the patient (matched or quickly
//! registered) are stored in one transaction with their audit rows. A failed call
//! releases the claim and changes nothing else; an unreadable answer or payload is
//! kept for inspection.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::gateway::Gateway;
use super::{keep_message, EpsError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::backend::is_unique_violation;
use crate::db::schema::{
    check_findings, eps_claims, eps_prescriptions, patients, pharmacies, prescriptions,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::checks::CurrencyPolicy;
use crate::domain::eps::intake::{
    items_from_payload, patient_from_payload, signature_verdict, AcceptDraft, AcceptInput,
    Identification,
};
use crate::domain::eps::messages::{Operation, Request, Response};
use crate::domain::role::Permission;
use crate::domain::rx_csv::{interpret, parse_document, RxData};
use crate::drugs::clinical::RULES;
use crate::prescriptions::{self as rx, Prescription};

/// A claim older than this with no prescription was left by a crash and may be taken over.
const STALE_CLAIM: i64 = 10;

pub(super) fn new_file_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

pub(super) fn pharmacy_of(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
) -> Result<(String, String), EpsError> {
    // Staff carry their pharmacies' codes and names in the session.
    if let Some(m) = ctx
        .actor
        .memberships
        .iter()
        .find(|m| m.pharmacy_id == pharmacy_id)
    {
        return Ok((m.pharmacy_code.clone(), m.pharmacy_name.clone()));
    }
    pharmacies::table
        .find(pharmacy_id)
        .select((pharmacies::code, pharmacies::name))
        .first(c)
        .optional()?
        .ok_or(EpsError::NotFound)
}

fn claim(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    code: &str,
) -> Result<(), EpsError> {
    let now = ctx.now.naive_utc();
    let stale_before = now - Duration::minutes(STALE_CLAIM);
    let holder = |c: &mut DbConnection| -> Result<Option<(String, NaiveDateTime, Option<String>)>, EpsError> {
        Ok(eps_claims::table
            .find((pharmacy_id, code))
            .select((
                eps_claims::claimed_by,
                eps_claims::claimed_at,
                eps_claims::prescription_id,
            ))
            .first(c)
            .optional()?)
    };
    let busy = |by: String, at: NaiveDateTime, rx: Option<String>| match rx {
        Some(prescription_id) => EpsError::AlreadyAccepted {
            by,
            prescription_id,
        },
        None => EpsError::InProgress {
            by,
            since: crate::context::jst(at).format("%H:%M:%S").to_string(),
        },
    };
    // One statement in the common case: the insert either claims the code or
    // meets the colleague's row (unique key), whoever committed first.
    for attempt in 0..3 {
        let inserted = diesel::insert_into(eps_claims::table)
            .values((
                eps_claims::pharmacy_id.eq(pharmacy_id),
                eps_claims::access_code.eq(code),
                eps_claims::claimed_by.eq(&ctx.actor.name),
                eps_claims::claimed_at.eq(now),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => return Ok(()),
            Err(e) if is_unique_violation(&e) => match holder(conn)? {
                // Released meanwhile: try again.
                None => continue,
                // Left by a crash: take it over.
                Some((_, at, None)) if at <= stale_before && attempt == 0 => {
                    diesel::delete(
                        eps_claims::table
                            .find((pharmacy_id, code))
                            .filter(eps_claims::claimed_at.eq(at))
                            .filter(eps_claims::prescription_id.is_null()),
                    )
                    .execute(conn)?;
                }
                Some((by, at, rx)) => return Err(busy(by, at, rx)),
            },
            Err(e) => return Err(e.into()),
        }
    }
    match holder(conn)? {
        Some((by, at, rx)) => Err(busy(by, at, rx)),
        None => Err(EpsError::WrongState(
            "the claim could not be taken; try again".into(),
        )),
    }
}

/// Releases a claim that did not lead to a prescription and audits why.
fn fail(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    code: &str,
    error: EpsError,
) -> EpsError {
    let r = write_transaction(conn, |c| {
        diesel::delete(
            eps_claims::table
                .find((pharmacy_id, code))
                .filter(eps_claims::prescription_id.is_null()),
        )
        .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::failed(Some(pharmacy_id), "eps.accepted").detail(format!(
                "引換番号 {code}: {}",
                error.to_string().chars().take(300).collect::<String>()
            )),
        )
    });
    match r {
        Ok(()) => error,
        Err(e) => EpsError::Db(e),
    }
}

/// Calls the terminal; an unreadable answer is kept as a message row.
pub(crate) fn call(
    conn: &mut DbConnection,
    gw: &Gateway,
    pharmacy_id: &str,
    req: &Request,
    now: NaiveDateTime,
) -> Result<Response, EpsError> {
    match gw.call(req) {
        Ok(r) => Ok(r),
        Err(e) => {
            if let super::gateway::GatewayError::Malformed { message, raw, .. } = &e {
                keep_message(
                    conn,
                    pharmacy_id,
                    req.operation.message_type(),
                    &req.file_id,
                    message,
                    raw,
                    now,
                )?;
            }
            Err(EpsError::from_gateway(&e))
        }
    }
}

/// Accepts a prescription from the national service (受付) and checks it.
pub fn accept(
    conn: &mut DbConnection,
    gw: Option<&Gateway>,
    ctx: &Ctx,
    pharmacy_id: &str,
    input: &AcceptInput,
    policy: &CurrencyPolicy,
) -> Result<Prescription, EpsError> {
    // Reception (受付) is counter work: clerks may accept; pharmacists review the checks.
    crate::authz::require::<EpsError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "eps.accepted",
        None,
    )?;
    let draft = input.parse().map_err(EpsError::Invalid)?;
    let gw = gw.ok_or(EpsError::NotConfigured)?;
    let (pharmacy_code, pharmacy_name) = pharmacy_of(conn, ctx, pharmacy_id)?;
    if let Some(pid) = &draft.patient_id {
        let n: i64 = patients::table
            .find((pharmacy_id, pid))
            .count()
            .get_result(conn)?;
        if n == 0 {
            let mut f = crate::domain::fields::FieldErrors::new();
            f.add(
                "patient_id",
                "この薬局の患者ではありません (not a patient of this pharmacy)",
            );
            return Err(EpsError::Invalid(f));
        }
    }
    let code = draft.code.as_str().to_string();
    claim(conn, ctx, pharmacy_id, &code)?;
    let req = Request {
        operation: match draft.identification {
            Identification::Insurance { .. } => Operation::Accept,
            Identification::Qualification => Operation::AcceptByQualification,
        },
        institution_code: pharmacy_code.clone(),
        file_id: new_file_id(),
        body: draft.request_body(&pharmacy_name),
    };
    let now = ctx.now.naive_utc();
    let response = match call(conn, gw, pharmacy_id, &req, now) {
        Ok(r) => r,
        Err(e) => return Err(fail(conn, ctx, pharmacy_id, &code, e)),
    };
    if let Some(kind) = response.error() {
        let e = EpsError::refused(kind, response.reception_pharmacy_name.as_deref());
        return Err(fail(conn, ctx, pharmacy_id, &code, e));
    }
    let eps_id = response.prescription_id.clone().unwrap_or_default();
    let raw = response.csv.clone().unwrap_or_default();
    let data = match read_payload(&raw, &eps_id) {
        Ok(d) => d,
        Err(message) => {
            keep_message(
                conn,
                pharmacy_id,
                "payload",
                &req.file_id,
                &message,
                raw.as_bytes(),
                now,
            )?;
            release_at_service(gw, &pharmacy_code, &eps_id);
            return Err(fail(
                conn,
                ctx,
                pharmacy_id,
                &code,
                EpsError::BadPayload(message),
            ));
        }
    };
    let quick = match &draft.patient_id {
        Some(_) => None,
        None => match patient_from_payload(&data).parse(ctx.today()) {
            Ok(p) => Some(p),
            Err(f) => {
                release_at_service(gw, &pharmacy_code, &eps_id);
                return Err(fail(
                    conn,
                    ctx,
                    pharmacy_id,
                    &code,
                    EpsError::PatientData(f),
                ));
            }
        },
    };
    let stored = write_transaction(conn, |c| {
        store(
            c,
            ctx,
            pharmacy_id,
            &draft,
            &response,
            &data,
            &raw,
            quick.as_ref(),
            policy,
        )
    });
    match stored {
        Ok(rx_id) => Ok(rx::load_on(conn, pharmacy_id, &rx_id, Some(ctx.today()))?),
        Err(e) => {
            // Not stored: let the patient go elsewhere rather than leave it held here.
            release_at_service(gw, &pharmacy_code, &eps_id);
            Err(fail(conn, ctx, pharmacy_id, &code, e))
        }
    }
}

fn read_payload(raw: &str, eps_id: &str) -> Result<RxData, String> {
    if raw.trim().is_empty() || eps_id.is_empty() {
        return Err(
            "the answer carries no prescription (PrescriptionCsv or PrescriptionId missing)".into(),
        );
    }
    let join = |e: Vec<crate::domain::rx_csv::CsvError>| {
        e.iter()
            .take(10)
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let doc = parse_document(raw).map_err(join)?;
    let data = interpret(&doc).map_err(join)?;
    if data.rps.iter().all(|r| r.items.is_empty()) {
        return Err("the prescription lists no drugs (record 201)".into());
    }
    if data.valid_until().is_none() {
        return Err("the prescription has no issue date (record 51)".into());
    }
    Ok(data)
}

/// Best-effort 受付取消 after the pharmacy could not take the prescription in.
fn release_at_service(gw: &Gateway, pharmacy_code: &str, eps_id: &str) {
    if eps_id.is_empty() {
        return;
    }
    let req = Request {
        operation: Operation::CancelAcceptance,
        institution_code: pharmacy_code.into(),
        file_id: new_file_id(),
        body: vec![("PrescriptionId".into(), eps_id.into())],
    };
    if let Err(e) = gw.call(&req) {
        tracing::warn!(error = %e, eps_id, "could not cancel the acceptance of an unreadable prescription");
    }
}

/// Matches the payload's patient to one of this pharmacy's patients by insurance
/// number and birth date; `None` when there is no single match.
pub(crate) fn match_patient(
    c: &mut DbConnection,
    pharmacy_id: &str,
    data: &RxData,
) -> QueryResult<Option<String>> {
    let (Some(insurer), Some(number), Some(birth)) = (
        data.insurance.insurer_number.as_deref(),
        data.insurance.number.as_deref(),
        data.patient.birth_date,
    ) else {
        return Ok(None);
    };
    let ids: Vec<String> = patients::table
        .filter(patients::pharmacy_id.eq(pharmacy_id))
        .filter(patients::insurer_number.eq(insurer))
        .filter(patients::insured_number.eq(number))
        .filter(patients::birth_date.eq(birth))
        .select(patients::id)
        .limit(2)
        .load(c)?;
    Ok(if ids.len() == 1 {
        ids.into_iter().next()
    } else {
        None
    })
}

#[allow(clippy::too_many_arguments)]
fn store(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    draft: &AcceptDraft,
    response: &Response,
    data: &RxData,
    raw: &str,
    quick: Option<&crate::domain::patient::PatientDraft>,
    policy: &CurrencyPolicy,
) -> Result<String, EpsError> {
    let now = ctx.now.naive_utc();
    let eps_id = response.prescription_id.clone().unwrap_or_default();
    // Audit rows are written last: on PostgreSQL the chain head's row lock is then
    // held only for the end of the transaction.
    let mut registered = None;
    let patient_id = match (&draft.patient_id, quick) {
        (Some(p), _) => p.clone(),
        (None, quick) => match match_patient(c, pharmacy_id, data)? {
            Some(p) => p,
            None => match quick {
                Some(q) => {
                    let id = crate::patients::insert_draft_unaudited(c, ctx, pharmacy_id, q)?;
                    registered = Some(id.clone());
                    id
                }
                None => return Err(EpsError::NotFound),
            },
        },
    };
    let rx_id = uuid::Uuid::now_v7().to_string();
    let issue_date = data.issue_date.unwrap_or(ctx.today());
    diesel::insert_into(prescriptions::table)
        .values((
            prescriptions::pharmacy_id.eq(pharmacy_id),
            prescriptions::id.eq(&rx_id),
            prescriptions::patient_id.eq(&patient_id),
            prescriptions::source.eq("eps"),
            prescriptions::institution_name.eq(&data.institution.name),
            prescriptions::prescriber_name.eq(&data.doctor.name_kanji),
            prescriptions::issue_date.eq(issue_date),
            prescriptions::status.eq("checked"),
            prescriptions::rules_version.eq(RULES.version),
            prescriptions::checked_at.eq(now),
            prescriptions::version.eq(1),
            prescriptions::created_by.eq(&ctx.actor.name),
            prescriptions::created_at.eq(now),
            prescriptions::updated_at.eq(now),
        ))
        .execute(c)?;
    let items = items_from_payload(data);
    let names: Vec<String> = data
        .rps
        .iter()
        .flat_map(|rp| rp.items.iter().map(|i| i.name.clone()))
        .collect();
    let result = rx::store_named_items_and_check(
        c,
        ctx,
        pharmacy_id,
        &rx_id,
        &patient_id,
        &items,
        &names,
        policy,
    )?;
    // The service's own duplicate/contraindication results are findings too:
    // a pharmacist resolves each of them like the local ones.
    for (i, chk) in response.checks.iter().enumerate() {
        diesel::insert_into(check_findings::table)
            .values((
                check_findings::pharmacy_id.eq(pharmacy_id),
                check_findings::id.eq(uuid::Uuid::now_v7().to_string()),
                check_findings::prescription_id.eq(&rx_id),
                check_findings::kind.eq("eps_check"),
                check_findings::severity.eq("warning"),
                check_findings::item_id.eq(""),
                check_findings::item_name.eq("（処方全体）"),
                check_findings::rule.eq(format!("EPS-{}-{}", chk.code, i + 1)),
                check_findings::rule_source.eq("電子処方箋管理サービス 重複投薬等チェック"),
                check_findings::message.eq(&chk.message),
                check_findings::status.eq("open"),
                check_findings::created_at.eq(now),
            ))
            .execute(c)?;
    }
    let signature = signature_verdict(&response.verify);
    diesel::insert_into(eps_prescriptions::table)
        .values((
            eps_prescriptions::pharmacy_id.eq(pharmacy_id),
            eps_prescriptions::prescription_id.eq(&rx_id),
            eps_prescriptions::eps_id.eq(&eps_id),
            eps_prescriptions::access_code.eq(draft.code.as_str()),
            eps_prescriptions::issue_type.eq(response.issue_type.as_deref().unwrap_or("1")),
            eps_prescriptions::eps_status
                .eq(response.prescription_status.as_deref().unwrap_or("調剤中")),
            eps_prescriptions::state.eq("accepted"),
            eps_prescriptions::signature_ok.eq(signature.is_ok()),
            eps_prescriptions::signature_detail
                .eq(serde_json::to_string(&response.verify).unwrap_or_else(|_| "[]".into())),
            eps_prescriptions::valid_until.eq(data.valid_until().unwrap_or(issue_date)),
            eps_prescriptions::refill_total.eq(data.refill.map(|r| r.0 as i32)),
            eps_prescriptions::refill_use.eq(data.refill.map(|r| r.1 as i32)),
            eps_prescriptions::narcotic.eq(data.narcotic.is_some()),
            eps_prescriptions::payload.eq(raw),
            eps_prescriptions::accepted_by.eq(&ctx.actor.name),
            eps_prescriptions::accepted_at.eq(now),
            eps_prescriptions::updated_at.eq(now),
        ))
        .execute(c)?;
    diesel::update(eps_claims::table.find((pharmacy_id, draft.code.as_str())))
        .set(eps_claims::prescription_id.eq(Some(&rx_id)))
        .execute(c)?;
    let mut events = Vec::with_capacity(4);
    if let Some(id) = &registered {
        events.push(
            Event::ok(Some(pharmacy_id), "patient.created")
                .subject("patient", id)
                .detail("quick registration from an e-prescription"),
        );
    }
    events.push(
        Event::ok(Some(pharmacy_id), "prescription.received")
            .subject("prescription", &rx_id)
            .detail(format!("source: eps; 処方箋ID {eps_id}")),
    );
    events.push(
        Event::ok(Some(pharmacy_id), "eps.accepted")
            .subject("prescription", &rx_id)
            .detail(format!(
                "処方箋ID {eps_id}; 引換番号 {}; signature {}",
                draft.code.as_str(),
                if signature.is_ok() { "OK" } else { "NG" }
            )),
    );
    events.push(
        Event::ok(Some(pharmacy_id), "prescription.checked")
            .subject("prescription", &rx_id)
            .detail(format!(
                "items: {}; local findings: {}; service findings: {}",
                items.len(),
                result.findings.len(),
                response.checks.len()
            )),
    );
    audit::record_many(c, ctx, events)?;
    Ok(rx_id)
}
