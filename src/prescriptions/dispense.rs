//! Dispensing: refused while any finding is open, and for e-prescriptions while
//! the signature is not verified or the 使用期限 has passed. What was given (product,
//! quantity, lot, expiry, generic substitution) becomes the patient's dispensing
//! history; for e-prescriptions the result registration is queued in the same
//! transaction as a durable job.

use chrono::Duration;
use diesel::prelude::*;

use super::{load, DispensedRow, Prescription, PrescriptionError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{copy_prescriptions, dispensed_items, eps_prescriptions, prescriptions};
use crate::db::{write_transaction, DbConnection};
use crate::domain::dispensing::{substitution_allowed, DispenseInput};
use crate::domain::eps::intake::Stage;
use crate::domain::eps::intake::{dispensing_blockers, signature_verdict};
use crate::domain::fields::FieldErrors;
use crate::domain::originals::OriginalPolicy;
use crate::domain::role::Permission;
use crate::jobs::{self, NewJob};

/// The job kind that registers a dispensing result with the national service.
pub const REGISTER_RESULT_JOB: &str = "eps.register_result";

/// What dispensing needs from configuration.
#[derive(Debug, Clone, Copy)]
pub struct DispenseSettings {
    /// How long an e-prescription's result registration is retried before staff
    /// are asked.
    pub result_dead_after: Duration,
    /// When the original of a copy-based prescription becomes overdue.
    pub originals: OriginalPolicy,
}

/// Marks a prescription dispensed with what was given.
pub fn dispense(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    input: &DispenseInput,
    settings: &DispenseSettings,
) -> Result<Prescription, PrescriptionError> {
    let dead_after = settings.result_dead_after;
    crate::authz::require::<PrescriptionError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "prescription.dispensed",
        Some(("prescription", rx_id)),
    )?;
    let today = ctx.today();
    let draft = input.parse(today).map_err(PrescriptionError::Invalid)?;
    let outcome = write_transaction(conn, |c| {
        let p = load(c, pharmacy_id, rx_id)?;
        if p.header.status != "checked" {
            return Err(PrescriptionError::WrongState(p.header.status));
        }
        let refuse = |c: &mut DbConnection, why: String| -> Result<(), PrescriptionError> {
            audit::record(
                c,
                ctx,
                Event::denied(Some(pharmacy_id), "prescription.dispensed")
                    .subject("prescription", rx_id)
                    .detail(why),
            )?;
            Ok(())
        };
        if p.open_findings > 0 {
            refuse(c, format!("open findings: {}", p.open_findings))?;
            return Ok(Err(PrescriptionError::UnresolvedFindings(p.open_findings)));
        }
        let eps = p.eps.clone();
        if let Some(e) = &eps {
            let blockers = dispensing_blockers(
                &e.issue_type,
                signature_verdict(&e.signature),
                e.valid_until,
                today,
            );
            if !blockers.is_empty() {
                refuse(c, blockers.join("; "))?;
                return Ok(Err(PrescriptionError::Blocked(blockers.join(" / "))));
            }
        }
        if let Some(cp) = &p.copy {
            let blockers = dispensing_blockers("2", Ok(()), cp.valid_until, today);
            if !blockers.is_empty() {
                refuse(c, blockers.join("; "))?;
                return Ok(Err(PrescriptionError::Blocked(blockers.join(" / "))));
            }
        }
        // Every line names an item of this prescription; substitutions are checked.
        let mut errors = FieldErrors::new();
        for (i, l) in draft.lines.iter().enumerate() {
            if !p.items.iter().any(|it| it.id == l.item_id) {
                errors.add(
                    &format!("items[{i}].item_id"),
                    "この処方箋の薬品ではありません (not an item of this prescription)",
                );
            }
        }
        let now = ctx.now.naive_utc();
        let mut substitutions = 0;
        let mut rows = Vec::with_capacity(p.items.len());
        for (i, it) in p.items.iter().enumerate() {
            let line = draft.line(&it.id);
            let given = line.and_then(|l| l.drug_code.clone());
            let (code, name, yj, substituted) = match given {
                Some(code) if code != it.drug_code && Some(&code) != it.yj_code.as_ref() => {
                    let product = crate::drugs::lookup(c, &code)?.into_iter().next();
                    let allowed = substitution_allowed(
                        it.yj_code.as_deref(),
                        product.as_ref().map(|p| p.yj_code.as_str()),
                    );
                    match (allowed, product) {
                        (Ok(()), Some(product)) => {
                            substitutions += 1;
                            (code, product.name, Some(product.yj_code), true)
                        }
                        (r, _) => {
                            errors.add(
                                &format!("items[{i}].drug_code"),
                                r.err().unwrap_or_default(),
                            );
                            continue;
                        }
                    }
                }
                _ => (
                    it.drug_code.clone(),
                    it.drug_name.clone(),
                    it.yj_code.clone(),
                    false,
                ),
            };
            rows.push((it, line, code, name, yj, substituted));
        }
        if !errors.is_empty() {
            return Ok(Err(PrescriptionError::Invalid(errors)));
        }
        let mut given = Vec::with_capacity(rows.len());
        let mut explicit = Vec::with_capacity(rows.len());
        for (it, line, code, name, yj, substituted) in rows {
            explicit.push(line.is_some_and(|l| !l.quantity.is_empty()));
            let quantity = line
                .map(|l| l.quantity.clone())
                .filter(|q| !q.is_empty())
                .unwrap_or_else(|| it.dose.clone());
            given.push(DispensedRow {
                item_id: it.id.clone(),
                drug_code: code.clone(),
                drug_name: name.clone(),
                yj_code: yj.clone(),
                prescribed_code: substituted.then(|| it.drug_code.clone()),
                substituted,
                quantity: quantity.clone(),
                lot_number: line.and_then(|l| l.lot_number.clone()),
                lot_expiry: line.and_then(|l| l.lot_expiry),
                dispensed_on: today,
            });
            diesel::insert_into(dispensed_items::table)
                .values((
                    dispensed_items::pharmacy_id.eq(pharmacy_id),
                    dispensed_items::id.eq(uuid::Uuid::now_v7().to_string()),
                    dispensed_items::patient_id.eq(&p.header.patient_id),
                    dispensed_items::prescription_id.eq(rx_id),
                    dispensed_items::item_id.eq(&it.id),
                    dispensed_items::drug_code.eq(&code),
                    dispensed_items::drug_name.eq(&name),
                    dispensed_items::yj_code.eq(&yj),
                    dispensed_items::dispensed_on.eq(today),
                    dispensed_items::days.eq(it.days),
                    dispensed_items::as_needed.eq(it.as_needed),
                    dispensed_items::created_at.eq(now),
                    dispensed_items::prescribed_code.eq(substituted.then(|| it.drug_code.clone())),
                    dispensed_items::substituted.eq(substituted),
                    dispensed_items::quantity.eq(&quantity),
                    dispensed_items::lot_number.eq(line.and_then(|l| l.lot_number.clone())),
                    dispensed_items::lot_expiry.eq(line.and_then(|l| l.lot_expiry)),
                ))
                .execute(c)?;
        }
        // Controlled drugs leave the stock in the same transaction (麻薬帳簿).
        ledger_entries(c, ctx, pharmacy_id, rx_id, &given, &explicit)?;
        diesel::update(prescriptions::table.find((pharmacy_id, rx_id)))
            .set((
                prescriptions::status.eq("dispensed"),
                prescriptions::dispensed_at.eq(Some(now)),
                prescriptions::version.eq(p.header.version + 1),
                prescriptions::updated_at.eq(now),
            ))
            .execute(c)?;
        // Audit rows last (the chain head's lock is then held briefly on PostgreSQL).
        let mut events = vec![Event::ok(Some(pharmacy_id), "prescription.dispensed")
            .subject("prescription", rx_id)
            .detail(format!(
                "items: {}; generic substitutions: {substitutions}",
                p.items.len()
            ))];
        if p.copy.is_some() {
            // The original is now due; it is kept for 3 (公費: 5) years from today.
            let (due_on, escalate_on) = settings.originals.dates(today);
            let retain = crate::copies::originals::retention_for(
                c,
                pharmacy_id,
                &p.header.patient_id,
                today,
            )?;
            diesel::update(copy_prescriptions::table.find((pharmacy_id, rx_id)))
                .set((
                    copy_prescriptions::due_on.eq(Some(due_on)),
                    copy_prescriptions::escalate_on.eq(Some(escalate_on)),
                    copy_prescriptions::retain_until.eq(Some(retain)),
                ))
                .execute(c)?;
        }
        if eps.is_some() {
            let job = jobs::enqueue(
                c,
                ctx.now,
                dead_after,
                NewJob {
                    pharmacy_id,
                    kind: REGISTER_RESULT_JOB,
                    subject_id: Some(rx_id),
                    payload: serde_json::json!({ "prescription_id": rx_id }),
                    run_at: ctx.now,
                },
            )?;
            diesel::update(eps_prescriptions::table.find((pharmacy_id, rx_id)))
                .set((
                    eps_prescriptions::state.eq("result_pending"),
                    eps_prescriptions::result_job_id.eq(Some(&job)),
                    eps_prescriptions::message_to_prescriber.eq(&draft.message_to_prescriber),
                    eps_prescriptions::updated_at.eq(now),
                ))
                .execute(c)?;
            events.push(
                Event::ok(Some(pharmacy_id), "eps.result_queued")
                    .subject("prescription", rx_id)
                    .detail(format!("job {job}")),
            );
        }
        audit::record_many(c, ctx, events)?;
        // What was just written, without reading it back.
        let mut done = p;
        done.header.status = "dispensed".into();
        done.header.version += 1;
        done.header.dispensed_at = Some(now);
        done.dispensed = given;
        done.blockers = Vec::new();
        if done.copy.is_some() {
            // Due dates and blockers changed: read the copy side back.
            done.copy = crate::copies::originals::view(c, pharmacy_id, rx_id, Some(today))?;
        }
        done.handover_blockers = super::handover_blockers(&done.header, done.copy.as_ref());
        if let Some(e) = done.eps.as_mut() {
            e.state = "result_pending".into();
            e.message_to_prescriber = draft.message_to_prescriber.clone();
        }
        done.stage = Stage::of("dispensed", done.eps.as_ref().map(|e| e.state.as_str()), 0);
        done.stage_label = done.stage.label().into();
        Ok(Ok(done))
    });
    if let Err(PrescriptionError::Blocked(why)) = &outcome {
        // Rolled back; the refusal is still recorded.
        audit::record_alone(
            conn,
            ctx,
            Event::denied(Some(pharmacy_id), "prescription.dispensed")
                .subject("prescription", rx_id)
                .detail(why.clone()),
        )?;
    }
    outcome?
}

/// Writes the ledger entry of each dispensed 麻薬 (and each 向精神薬 the pharmacy
/// keeps a ledger for). Their quantity must be given as a number: a default (the
/// dose) would silently under-count the stock.
fn ledger_entries(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    given: &[DispensedRow],
    explicit: &[bool],
) -> Result<(), PrescriptionError> {
    use crate::domain::delivery::ledger::EntryKind;
    use crate::ledger::{self, LedgerError, NewEntry};
    for (i, row) in given.iter().enumerate() {
        let Some(yj) = &row.yj_code else { continue };
        let Some(product) = crate::drugs::lookup(c, yj)?.into_iter().next() else {
            continue;
        };
        let tracked = match ledger::category(product.narcotic, product.psychotropic) {
            Some("narcotic") => true,
            Some(_) => ledger::keeps_ledger(c, pharmacy_id, yj)?,
            _ => false,
        };
        if !tracked {
            continue;
        }
        let quantity = explicit
            .get(i)
            .copied()
            .unwrap_or(false)
            .then(|| ledger::whole_quantity(&row.quantity))
            .flatten();
        let Some(quantity) = quantity else {
            let mut f = FieldErrors::new();
            f.add(
                &format!("items[{i}].quantity"),
                "麻薬・向精神薬は調剤数量を数値で入力してください（例: 14錠） (quantity required)",
            );
            return Err(PrescriptionError::Invalid(f));
        };
        let unit = ledger::unit_of(&row.quantity);
        ledger::append(
            c,
            ctx,
            pharmacy_id,
            &NewEntry {
                product: yj,
                kind: EntryKind::Dispensed,
                quantity,
                unit: &unit,
                lot: row.lot_number.as_deref().unwrap_or(""),
                witness: "",
                reference: rx_id,
                note: "",
            },
        )
        .map_err(|e| match e {
            LedgerError::Db(d) => PrescriptionError::Db(d),
            other => PrescriptionError::Blocked(format!("麻薬帳簿: {other}")),
        })?;
    }
    Ok(())
}
