//! Dispensing: refused while any finding is open; the items become the patient's
//! dispensing history for later checks.

use diesel::prelude::*;

use super::{load, Prescription, PrescriptionError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{dispensed_items, prescriptions};
use crate::db::{write_transaction, DbConnection};
use crate::domain::role::Permission;

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
