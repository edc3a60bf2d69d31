//! Prescriptions: manual entry by a pharmacist (the intake issues add e-prescriptions
//! and copies), the medication check on entry and on every change of items, and
//! dispensing, which is refused while any finding is unresolved.

pub mod review;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::schema::{
    check_findings, dispensed_items, patients, prescription_items, prescriptions,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::checks::{CheckResult, CurrencyPolicy, Finding};
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

/// A prescription item.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = prescription_items)]
pub struct Item {
    pub id: String,
    pub rp_number: i32,
    pub seq: i32,
    pub drug_code: String,
    pub drug_name: String,
    pub yj_code: Option<String>,
    pub dose: String,
    pub usage: String,
    pub days: i32,
    pub as_needed: bool,
}

/// A stored finding with its resolution.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = check_findings)]
pub struct StoredFinding {
    pub id: String,
    pub kind: String,
    pub severity: String,
    pub item_id: String,
    pub item_name: String,
    pub other_source: Option<String>,
    pub other_id: Option<String>,
    pub other_name: Option<String>,
    pub rule: String,
    pub rule_source: String,
    pub message: String,
    /// open, acknowledged, inquired or superseded
    pub status: String,
    pub reason: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub inquiry_at: Option<NaiveDateTime>,
    pub inquiry_method: Option<String>,
    pub inquiry_contact: Option<String>,
    pub inquiry_question: Option<String>,
    pub inquiry_answer: Option<String>,
    pub inquiry_outcome: Option<String>,
    pub resolved_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<NaiveDateTime>,
}

/// A prescription header.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = prescriptions)]
pub struct Header {
    pub pharmacy_id: String,
    pub id: String,
    pub patient_id: String,
    pub source: String,
    pub institution_name: String,
    pub prescriber_name: String,
    pub issue_date: NaiveDate,
    /// checked, dispensed or cancelled
    pub status: String,
    pub rules_version: String,
    #[schema(value_type = String, format = DateTime)]
    pub checked_at: NaiveDateTime,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub dispensed_at: Option<NaiveDateTime>,
    pub version: i32,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
}

/// A prescription with its items and current findings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Prescription {
    #[serde(flatten)]
    pub header: Header,
    pub items: Vec<Item>,
    /// Findings of the latest check (superseded ones are left out).
    pub findings: Vec<StoredFinding>,
    pub open_findings: usize,
    /// "Not in the checked list" — never "no interaction".
    pub disclaimer: String,
}

fn candidates(items: &[(String, ItemDraft)]) -> Vec<Candidate> {
    items
        .iter()
        .map(|(id, d)| Candidate {
            id: id.clone(),
            drug_code: d.drug_code.clone(),
            days: d.days,
            as_needed: d.as_needed,
        })
        .collect()
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
    let mut with_ids = Vec::with_capacity(drafts.len());
    let mut seq_in_rp = std::collections::HashMap::new();
    for d in drafts {
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
                    .unwrap_or_else(|| format!("（マスター未収載 {}）", d.drug_code))),
                prescription_items::yj_code.eq(product.as_ref().map(|p| p.yj_code.clone())),
                prescription_items::dose.eq(&d.dose),
                prescription_items::usage.eq(&d.usage),
                prescription_items::days.eq(d.days),
                prescription_items::as_needed.eq(d.as_needed),
            ))
            .execute(c)?;
        with_ids.push((id, d.clone()));
    }
    let result = medications::run_check(
        c,
        pharmacy_id,
        patient_id,
        &candidates(&with_ids),
        ctx.today(),
        policy,
    )?;
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
        diesel::update(
            check_findings::table
                .filter(check_findings::pharmacy_id.eq(pharmacy_id))
                .filter(check_findings::prescription_id.eq(rx_id))
                .filter(check_findings::status.ne("superseded")),
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

fn load(
    c: &mut DbConnection,
    pharmacy_id: &str,
    rx_id: &str,
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
    Ok(Prescription {
        header,
        items,
        findings,
        open_findings,
        disclaimer: crate::domain::checks::NOT_IN_LIST.into(),
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
    let p = load(conn, pharmacy_id, rx_id)?;
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

/// Marks a prescription dispensed: refused while any finding is open. Its items
/// become the patient's dispensing history (for later checks).
pub fn dispense(
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
        "prescription.dispensed",
        Some(("prescription", rx_id)),
    )?;
    let outcome = write_transaction(conn, |c| {
        let p = load(c, pharmacy_id, rx_id)?;
        if p.header.status != "checked" {
            return Err(PrescriptionError::WrongState(p.header.status));
        }
        if p.open_findings > 0 {
            audit::record(
                c,
                ctx,
                Event::denied(Some(pharmacy_id), "prescription.dispensed")
                    .subject("prescription", rx_id)
                    .detail(format!("open findings: {}", p.open_findings)),
            )?;
            return Ok(Err(PrescriptionError::UnresolvedFindings(p.open_findings)));
        }
        let today = ctx.today();
        let now = ctx.now.naive_utc();
        for it in &p.items {
            diesel::insert_into(dispensed_items::table)
                .values((
                    dispensed_items::pharmacy_id.eq(pharmacy_id),
                    dispensed_items::id.eq(uuid::Uuid::now_v7().to_string()),
                    dispensed_items::patient_id.eq(&p.header.patient_id),
                    dispensed_items::prescription_id.eq(rx_id),
                    dispensed_items::item_id.eq(&it.id),
                    dispensed_items::drug_code.eq(&it.drug_code),
                    dispensed_items::drug_name.eq(&it.drug_name),
                    dispensed_items::yj_code.eq(&it.yj_code),
                    dispensed_items::dispensed_on.eq(today),
                    dispensed_items::days.eq(it.days),
                    dispensed_items::as_needed.eq(it.as_needed),
                    dispensed_items::created_at.eq(now),
                ))
                .execute(c)?;
        }
        diesel::update(prescriptions::table.find((pharmacy_id, rx_id)))
            .set((
                prescriptions::status.eq("dispensed"),
                prescriptions::dispensed_at.eq(Some(now)),
                prescriptions::version.eq(p.header.version + 1),
                prescriptions::updated_at.eq(now),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "prescription.dispensed")
                .subject("prescription", rx_id)
                .detail(format!("items: {}", p.items.len())),
        )?;
        Ok(Ok(()))
    })?;
    outcome?;
    load(conn, pharmacy_id, rx_id)
}
