//! A pharmacist resolves each finding: an acknowledged decision with a reason
//! (e.g. the prescriber's intent is known), or a 疑義照会 recorded with when, how,
//! whom, the question, the answer and the outcome. A changed or cancelled outcome
//! is followed by editing the items, which re-runs the check.

use diesel::prelude::*;

use super::{load, Prescription, PrescriptionError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::check_findings;
use crate::db::{write_transaction, DbConnection};
use crate::domain::prescription::{Resolution, ResolutionInput};
use crate::domain::role::Permission;

/// Resolves one open finding of a prescription.
pub fn resolve(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    finding_id: &str,
    input: &ResolutionInput,
) -> Result<Prescription, PrescriptionError> {
    crate::authz::require::<PrescriptionError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "finding.resolved",
        Some(("finding", finding_id)),
    )?;
    let resolution = input
        .parse(ctx.now.naive_utc())
        .map_err(PrescriptionError::Invalid)?;
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let p = load(c, pharmacy_id, rx_id)?;
        if p.header.status != "checked" {
            return Err(PrescriptionError::WrongState(p.header.status));
        }
        let key = check_findings::table
            .find((pharmacy_id, finding_id))
            .filter(check_findings::prescription_id.eq(rx_id))
            .filter(check_findings::status.eq("open"));
        let (n, detail) = match &resolution {
            Resolution::Acknowledged { reason } => (
                diesel::update(key)
                    .set((
                        check_findings::status.eq("acknowledged"),
                        check_findings::reason.eq(Some(reason)),
                        check_findings::resolved_by.eq(Some(&ctx.actor.name)),
                        check_findings::resolved_at.eq(Some(now)),
                    ))
                    .execute(c)?,
                "acknowledged".to_string(),
            ),
            Resolution::Inquiry {
                at,
                method,
                contact,
                question,
                answer,
                outcome,
            } => (
                diesel::update(key)
                    .set((
                        check_findings::status.eq("inquired"),
                        check_findings::inquiry_at.eq(Some(at)),
                        check_findings::inquiry_method.eq(Some(method)),
                        check_findings::inquiry_contact.eq(Some(contact)),
                        check_findings::inquiry_question.eq(Some(question)),
                        check_findings::inquiry_answer.eq(Some(answer)),
                        check_findings::inquiry_outcome.eq(Some(outcome)),
                        check_findings::resolved_by.eq(Some(&ctx.actor.name)),
                        check_findings::resolved_at.eq(Some(now)),
                    ))
                    .execute(c)?,
                format!("疑義照会 ({method}); outcome={outcome}"),
            ),
        };
        if n == 0 {
            return Err(PrescriptionError::NotFound);
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "finding.resolved")
                .subject("finding", finding_id)
                .detail(format!("prescription={rx_id}; {detail}")),
        )?;
        load(c, pharmacy_id, rx_id)
    })
}
