//! The patient's medication from every source the system has (this pharmacy's
//! dispensing records, medicines the patient declared: OTC and other
//! pharmacies), and running the check engine against it.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::schema::{declared_medications, dispensed_items, drug_information, patients};
use crate::db::{write_transaction, DbConnection};
use crate::domain::checks::{check, CheckResult, CurrencyPolicy, Med, MedSource};
use crate::domain::fields::FieldErrors;
use crate::domain::role::Permission;
use crate::drugs::{self, clinical::RULES};

/// Why a medication operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MedicationError {
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error("見つかりません (not found)")]
    NotFound,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<Denied> for MedicationError {
    fn from(d: Denied) -> Self {
        MedicationError::Forbidden(d)
    }
}

/// A medication to check (a prescription item, or an ad hoc candidate).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Candidate {
    /// Identifies the item in findings.
    #[serde(default)]
    pub id: String,
    pub drug_code: String,
    pub days: i32,
    #[serde(default)]
    pub as_needed: bool,
}

/// How far back history is read: beyond the longest supply plus windows nothing
/// can still be current.
const HISTORY_WINDOW_DAYS: i64 = 400;

/// Resolves candidates: the engine's items, with unknown codes kept (unverifiable).
pub fn resolve_candidates(
    conn: &mut DbConnection,
    items: &[Candidate],
    date: NaiveDate,
) -> QueryResult<Vec<Med>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, c) in items.iter().enumerate() {
        let found = drugs::lookup(conn, &c.drug_code)?;
        out.push(candidate_med(c, found.first(), i, date));
    }
    Ok(out)
}

type DispensedRow = (String, String, String, Option<String>, NaiveDate, i32, bool);
type DeclaredRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    NaiveDate,
    Option<i32>,
    bool,
    Option<NaiveDate>,
);

type NationalRow = (
    String,
    String,
    String,
    Option<String>,
    NaiveDate,
    i32,
    String,
);

/// Everything the patient may be taking around `date`, from every source:
/// this pharmacy's dispensing, declared medicines and the national drug
/// information (薬剤情報) fetched under a viewing consent.
pub fn history(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
    date: NaiveDate,
) -> QueryResult<Vec<Med>> {
    let since = date - Duration::days(HISTORY_WINDOW_DAYS);
    let dispensed: Vec<DispensedRow> = dispensed_items::table
        .filter(dispensed_items::pharmacy_id.eq(pharmacy_id))
        .filter(dispensed_items::patient_id.eq(patient_id))
        .filter(dispensed_items::dispensed_on.ge(since))
        .select((
            dispensed_items::id,
            dispensed_items::drug_code,
            dispensed_items::drug_name,
            dispensed_items::yj_code,
            dispensed_items::dispensed_on,
            dispensed_items::days,
            dispensed_items::as_needed,
        ))
        .load(conn)?;
    let declared: Vec<DeclaredRow> = declared_medications::table
        .filter(declared_medications::pharmacy_id.eq(pharmacy_id))
        .filter(declared_medications::patient_id.eq(patient_id))
        .select((
            declared_medications::id,
            declared_medications::drug_code,
            declared_medications::yj_code,
            declared_medications::drug_name,
            declared_medications::start_date,
            declared_medications::days,
            declared_medications::as_needed,
            declared_medications::ended_on,
        ))
        .load(conn)?;
    let national: Vec<NationalRow> = drug_information::table
        .filter(drug_information::pharmacy_id.eq(pharmacy_id))
        .filter(drug_information::patient_id.eq(patient_id))
        .filter(drug_information::dispensed_on.ge(since))
        .order(drug_information::fetched_at.desc())
        .select((
            drug_information::id,
            drug_information::drug_code,
            drug_information::drug_name,
            drug_information::yj_code,
            drug_information::dispensed_on,
            drug_information::days,
            drug_information::institution,
        ))
        .load(conn)?;
    // The national records also hold this pharmacy's own dispensing, and each fetch
    // repeats earlier lines: keep one line per drug, day and institution, and none
    // that this pharmacy's records already hold.
    let ours: std::collections::HashSet<(Option<String>, NaiveDate)> =
        dispensed.iter().map(|r| (r.3.clone(), r.4)).collect();
    let mut seen = std::collections::HashSet::new();
    let national: Vec<NationalRow> = national
        .into_iter()
        .filter(|r| !(r.3.is_some() && ours.contains(&(r.3.clone(), r.4))))
        .filter(|r| seen.insert((r.1.clone(), r.4, r.5, r.6.clone())))
        .collect();
    let mut codes: Vec<String> = dispensed.iter().filter_map(|r| r.3.clone()).collect();
    codes.extend(declared.iter().filter_map(|r| r.2.clone()));
    codes.extend(national.iter().filter_map(|r| r.3.clone()));
    codes.sort();
    codes.dedup();
    let products = drugs::by_yj_codes(conn, &codes)?;
    let engine: HashMap<&str, crate::domain::checks::Drug> = products
        .iter()
        .map(|(k, p)| (k.as_str(), drugs::engine_drug(p)))
        .collect();
    let mut meds = Vec::with_capacity(dispensed.len() + declared.len());
    for (id, code, name, yj, on, days, prn) in dispensed {
        meds.push(Med {
            drug: yj.as_deref().and_then(|y| engine.get(y).cloned()),
            id,
            source: MedSource::Dispensed,
            code,
            name,
            start: on,
            days: days.max(1) as u32,
            as_needed: prn,
        });
    }
    for (id, code, name, yj, on, days, _institution) in national {
        meds.push(Med {
            drug: yj.as_deref().and_then(|y| engine.get(y).cloned()),
            id,
            source: MedSource::National,
            code,
            name,
            start: on,
            days: days.max(1) as u32,
            as_needed: false,
        });
    }
    for (id, code, yj, name, start, days, prn, ended) in declared {
        if ended.is_some_and(|e| e < date) {
            continue;
        }
        // Ongoing declared medicines count until ended.
        let days = days
            .map(|d| d.max(1) as u32)
            .unwrap_or_else(|| ((date - start).num_days() + 1).max(1) as u32);
        meds.push(Med {
            drug: yj.as_deref().and_then(|y| engine.get(y).cloned()),
            id,
            source: MedSource::Declared,
            code: code.unwrap_or_default(),
            name,
            start,
            days,
            as_needed: prn,
        });
    }
    Ok(meds)
}

/// Checks candidates for a patient on `date` (no audit: callers audit).
pub fn run_check(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
    candidates: &[Candidate],
    date: NaiveDate,
    policy: &CurrencyPolicy,
) -> QueryResult<CheckResult> {
    let items = resolve_candidates(conn, candidates, date)?;
    check_resolved(conn, pharmacy_id, patient_id, &items, date, policy)
}

/// As [`run_check`] with the candidates already resolved against the master.
pub fn check_resolved(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
    items: &[Med],
    date: NaiveDate,
    policy: &CurrencyPolicy,
) -> QueryResult<CheckResult> {
    let hist = history(conn, pharmacy_id, patient_id, date)?;
    Ok(check(&RULES, items, &hist, date, policy))
}

/// A candidate resolved with the product found for it (if any).
pub fn candidate_med(
    c: &Candidate,
    product: Option<&drugs::Product>,
    index: usize,
    date: NaiveDate,
) -> Med {
    Med {
        id: if c.id.is_empty() {
            format!("item-{}", index + 1)
        } else {
            c.id.clone()
        },
        source: MedSource::Candidate,
        drug: product.map(drugs::engine_drug),
        name: product
            .map(|p| p.name.clone())
            .unwrap_or_else(|| c.drug_code.clone()),
        code: c.drug_code.clone(),
        start: date,
        days: c.days.max(1) as u32,
        as_needed: c.as_needed,
    }
}

fn patient_exists(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
) -> Result<(), MedicationError> {
    let n: i64 = patients::table
        .find((pharmacy_id, patient_id))
        .count()
        .get_result(conn)?;
    if n == 0 {
        return Err(MedicationError::NotFound);
    }
    Ok(())
}

/// Runs a check on arbitrary items for a patient (pharmacists; audited as a read).
pub fn adhoc_check(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
    candidates: &[Candidate],
    policy: &CurrencyPolicy,
) -> Result<CheckResult, MedicationError> {
    crate::authz::require::<MedicationError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "medication.checked",
        Some(("patient", patient_id)),
    )?;
    if candidates.is_empty() || candidates.len() > 50 {
        let mut f = FieldErrors::new();
        f.add("items", "1〜50品目 (1-50 items)");
        return Err(MedicationError::Invalid(f));
    }
    patient_exists(conn, pharmacy_id, patient_id)?;
    let result = run_check(
        conn,
        pharmacy_id,
        patient_id,
        candidates,
        ctx.today(),
        policy,
    )?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "medication.checked")
            .subject("patient", patient_id)
            .detail(format!(
                "items: {}; findings: {}",
                candidates.len(),
                result.findings.len()
            )),
    )?;
    Ok(result)
}

/// One line of the medication list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MedicationLine {
    pub id: String,
    pub source: MedSource,
    pub drug_code: String,
    pub name: String,
    pub start: NaiveDate,
    pub days: u32,
    pub as_needed: bool,
    /// Taken on the list's date (supply period, grace or window).
    pub current: bool,
    /// The code could not be found in the drug master.
    pub unknown_code: bool,
}

/// The patient's medication list (current first), audited as a read.
pub fn list(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
    policy: &CurrencyPolicy,
) -> Result<Vec<MedicationLine>, MedicationError> {
    crate::authz::require::<MedicationError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "medication.listed",
        Some(("patient", patient_id)),
    )?;
    patient_exists(conn, pharmacy_id, patient_id)?;
    let date = ctx.today();
    let mut lines: Vec<MedicationLine> = history(conn, pharmacy_id, patient_id, date)?
        .into_iter()
        .map(|m| MedicationLine {
            current: m.current_on(date, policy),
            unknown_code: m.drug.is_none(),
            id: m.id,
            source: m.source,
            drug_code: m.code,
            name: m.name,
            start: m.start,
            days: m.days,
            as_needed: m.as_needed,
        })
        .collect();
    lines.sort_by(|a, b| b.current.cmp(&a.current).then(b.start.cmp(&a.start)));
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "medication.listed").subject("patient", patient_id),
    )?;
    Ok(lines)
}

/// A medicine the patient declares (OTC, another pharmacy's dispensing).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct DeclaredInput {
    /// A code if known (YJ, レセ電, 一般名); else only the name.
    pub drug_code: Option<String>,
    pub drug_name: String,
    /// otc, other_pharmacy or other
    pub origin: String,
    /// YYYY-MM-DD
    pub start_date: String,
    /// Supply days; absent for ongoing use.
    pub days: Option<i32>,
    pub as_needed: bool,
    pub note: String,
}

/// Records a declared medicine (pharmacists and clerks; audited).
pub fn declare(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
    input: &DeclaredInput,
) -> Result<String, MedicationError> {
    crate::authz::require::<MedicationError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "medication.declared",
        Some(("patient", patient_id)),
    )?;
    let mut e = FieldErrors::new();
    let name = crate::domain::text::normalize(&input.drug_name);
    if name.is_empty() || name.chars().count() > 100 {
        e.add("drug_name", "1〜100文字 (1-100 characters)");
    }
    if !matches!(input.origin.as_str(), "otc" | "other_pharmacy" | "other") {
        e.add("origin", "otc, other_pharmacy, other のいずれか");
    }
    let start = NaiveDate::parse_from_str(input.start_date.trim(), "%Y-%m-%d").ok();
    if start.is_none() {
        e.add("start_date", "YYYY-MM-DD");
    }
    if input.days.is_some_and(|d| !(1..=365).contains(&d)) {
        e.add("days", "1〜365");
    }
    let code = input
        .drug_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let (Some(start), true) = (start, e.is_empty()) else {
        return Err(MedicationError::Invalid(e));
    };
    write_transaction(conn, |c| {
        patient_exists(c, pharmacy_id, patient_id)?;
        let yj = match &code {
            Some(code) => drugs::lookup(c, code)?.first().map(|p| p.yj_code.clone()),
            None => None,
        };
        let id = uuid::Uuid::now_v7().to_string();
        diesel::insert_into(declared_medications::table)
            .values((
                declared_medications::pharmacy_id.eq(pharmacy_id),
                declared_medications::id.eq(&id),
                declared_medications::patient_id.eq(patient_id),
                declared_medications::drug_code.eq(&code),
                declared_medications::yj_code.eq(&yj),
                declared_medications::drug_name.eq(&name),
                declared_medications::origin.eq(&input.origin),
                declared_medications::start_date.eq(start),
                declared_medications::days.eq(input.days),
                declared_medications::as_needed.eq(input.as_needed),
                declared_medications::note.eq(input.note.trim()),
                declared_medications::created_by.eq(&ctx.actor.name),
                declared_medications::created_at.eq(ctx.now.naive_utc()),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "medication.declared")
                .subject("patient", patient_id)
                .detail(format!("declared={id}; coded={}", yj.is_some())),
        )?;
        Ok(id)
    })
}

/// Ends a declared medicine (the patient stopped taking it).
pub fn end_declared(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
    id: &str,
) -> Result<(), MedicationError> {
    crate::authz::require::<MedicationError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "medication.declared_ended",
        Some(("patient", patient_id)),
    )?;
    write_transaction(conn, |c| {
        let n = diesel::update(
            declared_medications::table
                .find((pharmacy_id, id))
                .filter(declared_medications::patient_id.eq(patient_id)),
        )
        .set(declared_medications::ended_on.eq(Some(ctx.today() - Duration::days(1))))
        .execute(c)?;
        if n == 0 {
            return Err(MedicationError::NotFound);
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "medication.declared_ended")
                .subject("patient", patient_id)
                .detail(format!("declared={id}")),
        )?;
        Ok(())
    })
}
