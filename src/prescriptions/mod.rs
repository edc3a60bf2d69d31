//! Prescriptions: manual entry by a pharmacist (the intake issues add e-prescriptions
//! and copies), the medication check on entry and on every change of items, and
//! dispensing, which is refused while any finding is unresolved.

mod dispense;
mod model;
pub mod review;

pub use dispense::{dispense, DispenseSettings, REGISTER_RESULT_JOB};
pub use model::{
    DispensedRow, EpsRecord, EpsView, Header, Item, Prescription, StoredFinding, TimelineEntry,
};

use diesel::prelude::*;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::schema::{
    check_findings, dispensed_items, eps_prescriptions, patients, prescription_items, prescriptions,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::checks::{CheckResult, CurrencyPolicy, Finding};
use crate::domain::eps::intake::{dispensing_blockers, signature_verdict, Stage};
use crate::domain::fields::FieldErrors;
use crate::domain::prescription::{parse_items, ItemDraft, ItemInput, PrescriptionInput};
use crate::domain::role::Permission;
use crate::drugs::clinical::RULES;
use crate::medications::{self, Candidate};

/// Why a prescription operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PrescriptionError {
    #[error("invalid prescription: {0}")]
    Invalid(FieldErrors),
    #[error("処方箋が見つかりません (prescription not found)")]
    NotFound,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("未解決の確認事項が{0}件あります。すべて解決してから調剤済みにしてください (unresolved findings)")]
    UnresolvedFindings(usize),
    #[error("調剤できません: {0}")]
    Blocked(String),
    #[error("交付できません: {0}")]
    HandoverBlocked(String),
    #[error("この状態ではできません (not possible while the prescription is {0})")]
    WrongState(String),
    #[error("他の人が先に更新しました (changed by someone else; current version {0})")]
    VersionConflict(i32),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<Denied> for PrescriptionError {
    fn from(d: Denied) -> Self {
        PrescriptionError::Forbidden(d)
    }
}

/// Inserts items (resolving codes to names) and stores a fresh check.
fn store_items_and_check(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    patient_id: &str,
    drafts: &[ItemDraft],
    policy: &CurrencyPolicy,
) -> QueryResult<CheckResult> {
    store_named_items_and_check(c, ctx, pharmacy_id, rx_id, patient_id, drafts, &[], policy)
}

/// As [`store_items_and_check`], with names as written (used when a code is not
/// in the master, e.g. from an e-prescription payload).
#[allow(clippy::too_many_arguments)]
pub(crate) fn store_named_items_and_check(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    patient_id: &str,
    drafts: &[ItemDraft],
    written_names: &[String],
    policy: &CurrencyPolicy,
) -> QueryResult<CheckResult> {
    let mut meds = Vec::with_capacity(drafts.len());
    let mut seq_in_rp = std::collections::HashMap::new();
    for (i, d) in drafts.iter().enumerate() {
        let written = written_names.get(i).filter(|n| !n.is_empty());
        let id = uuid::Uuid::now_v7().to_string();
        let product = crate::drugs::lookup(c, &d.drug_code)?.into_iter().next();
        let seq = seq_in_rp.entry(d.rp).or_insert(0);
        *seq += 1;
        diesel::insert_into(prescription_items::table)
            .values((
                prescription_items::pharmacy_id.eq(pharmacy_id),
                prescription_items::prescription_id.eq(rx_id),
                prescription_items::id.eq(&id),
                prescription_items::rp_number.eq(d.rp),
                prescription_items::seq.eq(*seq),
                prescription_items::drug_code.eq(&d.drug_code),
                prescription_items::drug_name.eq(product
                    .as_ref()
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| match written {
                        Some(n) => format!("{n}（マスター未収載）"),
                        None => format!("（マスター未収載 {}）", d.drug_code),
                    })),
                prescription_items::yj_code.eq(product.as_ref().map(|p| p.yj_code.clone())),
                prescription_items::dose.eq(&d.dose),
                prescription_items::usage.eq(&d.usage),
                prescription_items::days.eq(d.days),
                prescription_items::as_needed.eq(d.as_needed),
            ))
            .execute(c)?;
        let candidate = Candidate {
            id,
            drug_code: d.drug_code.clone(),
            days: d.days,
            as_needed: d.as_needed,
        };
        meds.push(medications::candidate_med(
            &candidate,
            product.as_ref(),
            i,
            ctx.today(),
        ));
    }
    // The products were looked up above; the check reuses them.
    let result =
        medications::check_resolved(c, pharmacy_id, patient_id, &meds, ctx.today(), policy)?;
    // The prescription's own dispensing (if re-checked later) is not history yet.
    for f in &result.findings {
        insert_finding(c, ctx, pharmacy_id, rx_id, f)?;
    }
    Ok(result)
}

fn insert_finding(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    f: &Finding,
) -> QueryResult<()> {
    let source = |s: &crate::domain::checks::MedSource| {
        serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    diesel::insert_into(check_findings::table)
        .values((
            check_findings::pharmacy_id.eq(pharmacy_id),
            check_findings::id.eq(uuid::Uuid::now_v7().to_string()),
            check_findings::prescription_id.eq(rx_id),
            check_findings::kind.eq(f.kind.as_str()),
            check_findings::severity.eq(match f.severity {
                crate::domain::checks::Severity::High => "high",
                crate::domain::checks::Severity::Warning => "warning",
            }),
            check_findings::item_id.eq(&f.item.id),
            check_findings::item_name.eq(&f.item.name),
            check_findings::other_source.eq(f.other.as_ref().map(|o| source(&o.source))),
            check_findings::other_id.eq(f.other.as_ref().map(|o| o.id.clone())),
            check_findings::other_name.eq(f.other.as_ref().map(|o| o.name.clone())),
            check_findings::rule.eq(&f.rule),
            check_findings::rule_source.eq(&f.source),
            check_findings::message.eq(&f.message),
            check_findings::status.eq("open"),
            check_findings::created_at.eq(ctx.now.naive_utc()),
        ))
        .execute(c)?;
    Ok(())
}

/// Enters a prescription by hand (pharmacists) and checks it at once.
pub fn create_manual(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    input: &PrescriptionInput,
    policy: &CurrencyPolicy,
) -> Result<Prescription, PrescriptionError> {
    crate::authz::require::<PrescriptionError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "prescription.created",
        None,
    )?;
    let draft = input
        .parse(ctx.today())
        .map_err(PrescriptionError::Invalid)?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let exists: i64 = patients::table
            .find((pharmacy_id, &draft.patient_id))
            .count()
            .get_result(c)?;
        if exists == 0 {
            let mut f = FieldErrors::new();
            f.add(
                "patient_id",
                "この薬局の患者ではありません (not a patient of this pharmacy)",
            );
            return Err(PrescriptionError::Invalid(f));
        }
        diesel::insert_into(prescriptions::table)
            .values((
                prescriptions::pharmacy_id.eq(pharmacy_id),
                prescriptions::id.eq(&id),
                prescriptions::patient_id.eq(&draft.patient_id),
                prescriptions::source.eq("manual"),
                prescriptions::institution_name.eq(&draft.institution_name),
                prescriptions::prescriber_name.eq(&draft.prescriber_name),
                prescriptions::issue_date.eq(draft.issue_date),
                prescriptions::status.eq("checked"),
                prescriptions::rules_version.eq(RULES.version),
                prescriptions::checked_at.eq(now),
                prescriptions::version.eq(1),
                prescriptions::created_by.eq(&ctx.actor.name),
                prescriptions::created_at.eq(now),
                prescriptions::updated_at.eq(now),
            ))
            .execute(c)?;
        let result = store_items_and_check(
            c,
            ctx,
            pharmacy_id,
            &id,
            &draft.patient_id,
            &draft.items,
            policy,
        )?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "prescription.created")
                .subject("prescription", &id)
                .detail(format!(
                    "items: {}; findings: {}",
                    draft.items.len(),
                    result.findings.len()
                )),
        )?;
        load(c, pharmacy_id, &id)
    })
}

/// Replaces the items (e.g. after a 疑義照会 changed them): the check runs again
/// and earlier findings are superseded.
pub fn replace_items(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    expected_version: i32,
    items: &[ItemInput],
    policy: &CurrencyPolicy,
) -> Result<Prescription, PrescriptionError> {
    crate::authz::require::<PrescriptionError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "prescription.items_changed",
        Some(("prescription", rx_id)),
    )?;
    let mut e = FieldErrors::new();
    let drafts = parse_items(items, &mut e);
    if !e.is_empty() {
        return Err(PrescriptionError::Invalid(e));
    }
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let h = header(c, pharmacy_id, rx_id)?;
        if h.status != "checked" {
            return Err(PrescriptionError::WrongState(h.status));
        }
        let n = diesel::update(
            prescriptions::table
                .find((pharmacy_id, rx_id))
                .filter(prescriptions::version.eq(expected_version)),
        )
        .set((
            prescriptions::version.eq(expected_version + 1),
            prescriptions::checked_at.eq(now),
            prescriptions::rules_version.eq(RULES.version),
            prescriptions::updated_at.eq(now),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(PrescriptionError::VersionConflict(h.version));
        }
        // The local check runs again; the national service's own results (kind
        // `eps_check`) cannot be re-run here and stay as they are, open or resolved.
        diesel::update(
            check_findings::table
                .filter(check_findings::pharmacy_id.eq(pharmacy_id))
                .filter(check_findings::prescription_id.eq(rx_id))
                .filter(check_findings::status.ne("superseded"))
                .filter(check_findings::kind.ne("eps_check")),
        )
        .set(check_findings::status.eq("superseded"))
        .execute(c)?;
        diesel::delete(
            prescription_items::table
                .filter(prescription_items::pharmacy_id.eq(pharmacy_id))
                .filter(prescription_items::prescription_id.eq(rx_id)),
        )
        .execute(c)?;
        let result =
            store_items_and_check(c, ctx, pharmacy_id, rx_id, &h.patient_id, &drafts, policy)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "prescription.items_changed")
                .subject("prescription", rx_id)
                .detail(format!(
                    "items: {}; findings: {}",
                    drafts.len(),
                    result.findings.len()
                )),
        )?;
        load(c, pharmacy_id, rx_id)
    })
}

/// What stops the handover of a prescription in its current state.
fn handover_blockers(h: &Header, copy: Option<&crate::copies::originals::CopyView>) -> Vec<String> {
    let mut out = Vec::new();
    if h.status != "dispensed" {
        out.push("調剤済みではありません (not dispensed)".to_string());
    }
    if let Some(at) = h.handed_over_at {
        out.push(format!("交付済みです（{at}） (already handed over)"));
    }
    if let Some(cp) = copy {
        out.extend(crate::domain::originals::handover_blockers(
            cp.narcotic,
            &cp.narcotic_reason,
            cp.original_state,
            cp.open_discrepancies,
        ));
    }
    out
}

/// Records the handover (交付) of a dispensed prescription. Refused, and the
/// refusal audited, while anything blocks it — in particular a narcotic dispensed
/// from a copy before its original is received. Later handover steps (delivery)
/// go through the same check.
pub fn hand_over(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
) -> Result<Prescription, PrescriptionError> {
    crate::authz::require::<PrescriptionError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "prescription.handed_over",
        Some(("prescription", rx_id)),
    )?;
    let now = ctx.now.naive_utc();
    write_transaction(
        conn,
        |c| -> Result<Result<Prescription, PrescriptionError>, PrescriptionError> {
            let p = load_on(c, pharmacy_id, rx_id, Some(ctx.today()))?;
            if !p.handover_blockers.is_empty() {
                let why = p.handover_blockers.join(" / ");
                audit::record(
                    c,
                    ctx,
                    Event::denied(Some(pharmacy_id), "prescription.handed_over")
                        .subject("prescription", rx_id)
                        .detail(why.clone()),
                )?;
                return Ok(Err(PrescriptionError::HandoverBlocked(why)));
            }
            let n = diesel::update(
                prescriptions::table
                    .find((pharmacy_id, rx_id))
                    .filter(prescriptions::version.eq(p.header.version)),
            )
            .set((
                prescriptions::handed_over_at.eq(Some(now)),
                prescriptions::handed_over_by.eq(Some(&ctx.actor.name)),
                prescriptions::version.eq(p.header.version + 1),
                prescriptions::updated_at.eq(now),
            ))
            .execute(c)?;
            if n == 0 {
                return Ok(Err(PrescriptionError::VersionConflict(p.header.version)));
            }
            audit::record(
                c,
                ctx,
                Event::ok(Some(pharmacy_id), "prescription.handed_over")
                    .subject("prescription", rx_id),
            )?;
            Ok(Ok(load_on(c, pharmacy_id, rx_id, Some(ctx.today()))?))
        },
    )?
}

/// The handover of prescriptions delivered to the patient's home, in the
/// delivery's transaction: what blocks any of them (`rx: reason`; nothing is
/// written then), or, when nothing does, each marked handed over (audited) and
/// an empty list.
pub(crate) fn hand_over_delivered(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_ids: &[String],
    delivery_id: &str,
) -> Result<Vec<String>, PrescriptionError> {
    let mut loaded = Vec::with_capacity(rx_ids.len());
    let mut blockers = Vec::new();
    for rx in rx_ids {
        let p = load_on(c, pharmacy_id, rx, Some(ctx.today()))?;
        blockers.extend(p.handover_blockers.iter().map(|b| format!("{rx}: {b}")));
        loaded.push((rx, p.header.version));
    }
    if !blockers.is_empty() {
        return Ok(blockers);
    }
    let now = ctx.now.naive_utc();
    for (rx, version) in loaded {
        diesel::update(prescriptions::table.find((pharmacy_id, rx)))
            .set((
                prescriptions::handed_over_at.eq(Some(now)),
                prescriptions::handed_over_by.eq(Some(&ctx.actor.name)),
                prescriptions::version.eq(version + 1),
                prescriptions::updated_at.eq(now),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "prescription.handed_over")
                .subject("prescription", rx)
                .detail(format!("delivery {delivery_id}")),
        )?;
    }
    Ok(Vec::new())
}

fn header(
    c: &mut DbConnection,
    pharmacy_id: &str,
    rx_id: &str,
) -> Result<Header, PrescriptionError> {
    prescriptions::table
        .find((pharmacy_id, rx_id))
        .select(Header::as_select())
        .first(c)
        .optional()?
        .ok_or(PrescriptionError::NotFound)
}

/// The e-prescription record, if this prescription came from the national service.
pub(crate) fn eps_record(
    c: &mut DbConnection,
    pharmacy_id: &str,
    rx_id: &str,
) -> QueryResult<Option<EpsRecord>> {
    eps_prescriptions::table
        .find((pharmacy_id, rx_id))
        .select(EpsRecord::as_select())
        .first(c)
        .optional()
}

pub(crate) fn load(
    c: &mut DbConnection,
    pharmacy_id: &str,
    rx_id: &str,
) -> Result<Prescription, PrescriptionError> {
    load_on(c, pharmacy_id, rx_id, None)
}

/// Loads a prescription; `today` (when given) decides the blockers shown.
pub(crate) fn load_on(
    c: &mut DbConnection,
    pharmacy_id: &str,
    rx_id: &str,
    today: Option<chrono::NaiveDate>,
) -> Result<Prescription, PrescriptionError> {
    let header = header(c, pharmacy_id, rx_id)?;
    let items = prescription_items::table
        .filter(prescription_items::pharmacy_id.eq(pharmacy_id))
        .filter(prescription_items::prescription_id.eq(rx_id))
        .order((
            prescription_items::rp_number.asc(),
            prescription_items::seq.asc(),
        ))
        .select(Item::as_select())
        .load(c)?;
    let findings: Vec<StoredFinding> = check_findings::table
        .filter(check_findings::pharmacy_id.eq(pharmacy_id))
        .filter(check_findings::prescription_id.eq(rx_id))
        .filter(check_findings::status.ne("superseded"))
        .order(check_findings::id.asc())
        .select(StoredFinding::as_select())
        .load(c)?;
    let open_findings = findings.iter().filter(|f| f.status == "open").count();
    let eps = eps_record(c, pharmacy_id, rx_id)?;
    let dispensed = dispensed_items::table
        .filter(dispensed_items::pharmacy_id.eq(pharmacy_id))
        .filter(dispensed_items::prescription_id.eq(rx_id))
        .order(dispensed_items::id.asc())
        .select(DispensedRow::as_select())
        .load(c)?;
    let stage = Stage::of(
        &header.status,
        eps.as_ref().map(|e| e.state.as_str()),
        open_findings,
    );
    let copy = crate::copies::originals::view(c, pharmacy_id, rx_id, today)?;
    let blockers = match (&eps, &copy, today) {
        (Some(e), _, Some(today)) if header.status == "checked" => dispensing_blockers(
            &e.issue_type,
            signature_verdict(&e.signature()),
            e.valid_until,
            today,
        ),
        // A paper prescription's copy: no electronic signature; 使用期限 applies.
        (None, Some(cp), Some(today)) if header.status == "checked" => {
            dispensing_blockers("2", Ok(()), cp.valid_until, today)
        }
        _ => Vec::new(),
    };
    let handover_blockers = handover_blockers(&header, copy.as_ref());
    Ok(Prescription {
        header,
        items,
        findings,
        open_findings,
        disclaimer: crate::domain::checks::NOT_IN_LIST.into(),
        stage,
        stage_label: stage.label().into(),
        blockers,
        dispensed,
        eps: eps.as_ref().map(EpsRecord::view),
        copy,
        handover_blockers,
        timeline: Vec::new(),
    })
}

/// One prescription (audited read).
pub fn get(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
) -> Result<Prescription, PrescriptionError> {
    crate::authz::require::<PrescriptionError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "prescription.read",
        Some(("prescription", rx_id)),
    )?;
    let mut p = load_on(conn, pharmacy_id, rx_id, Some(ctx.today()))?;
    let mut rows = audit::list(
        conn,
        pharmacy_id,
        &audit::AuditFilter {
            subject_id: Some(rx_id.to_string()),
            limit: 200,
            ..Default::default()
        },
    )?;
    rows.reverse();
    p.timeline = rows
        .into_iter()
        .filter(|r| r.action != "prescription.read")
        .map(|r| TimelineEntry {
            at: r.occurred_at,
            action: r.action,
            actor: r.actor_name.unwrap_or_default(),
            outcome: r.outcome,
            detail: r.detail,
        })
        .collect();
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "prescription.read").subject("prescription", rx_id),
    )?;
    Ok(p)
}

/// A patient's prescriptions, newest first (audited read).
pub fn list_for_patient(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
) -> Result<Vec<Header>, PrescriptionError> {
    crate::authz::require::<PrescriptionError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "prescription.listed",
        Some(("patient", patient_id)),
    )?;
    let rows = prescriptions::table
        .filter(prescriptions::pharmacy_id.eq(pharmacy_id))
        .filter(prescriptions::patient_id.eq(patient_id))
        .order((prescriptions::created_at.desc(), prescriptions::id.desc()))
        .limit(200)
        .select(Header::as_select())
        .load(conn)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "prescription.listed").subject("patient", patient_id),
    )?;
    Ok(rows)
}
