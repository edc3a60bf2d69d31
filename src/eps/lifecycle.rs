//! What happens to an accepted e-prescription at the national service afterwards:
//! cancelling the acceptance (受付取消) or rejecting it (調剤拒否), asking for its
//! status, and cancelling a registered dispensing result (調剤結果の取消). Each asks
//! the service first and changes the pharmacy's records only when it agreed; a
//! refusal or an unreachable service is audited and changes nothing.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::gateway::Gateway;
use super::intake::{call, new_file_id, pharmacy_of};
use super::EpsError;
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{dispensed_items, eps_claims, eps_prescriptions, prescriptions};
use crate::db::{write_transaction, DbConnection};
use crate::domain::eps::messages::{Operation, Response};
use crate::domain::fields::FieldErrors;
use crate::domain::role::Permission;
use crate::prescriptions::{self as rx, EpsRecord, Prescription};

/// One request about an accepted prescription, for [`ask`].
struct Ask<'a> {
    pharmacy_id: &'a str,
    rx_id: &'a str,
    /// The audit action a failure is recorded under.
    action: &'a str,
    operation: Operation,
    /// The state the e-prescription must be in, and what to say otherwise.
    state: (&'a str, &'a str),
}

fn reason_required() -> EpsError {
    let mut f = FieldErrors::new();
    f.add("reason", "理由を入力してください (a reason is required)");
    EpsError::Invalid(f)
}

/// Checks the state, asks the service about the prescription (by its 処方箋ID) and
/// returns its answer; a failure or refusal is audited and returned.
fn ask(
    conn: &mut DbConnection,
    gw: Option<&Gateway>,
    ctx: &Ctx,
    a: &Ask<'_>,
) -> Result<(EpsRecord, Response), EpsError> {
    let gw = gw.ok_or(EpsError::NotConfigured)?;
    let rec = rx::eps_record(conn, a.pharmacy_id, a.rx_id)?.ok_or(EpsError::NotFound)?;
    let (required, otherwise) = a.state;
    if !required.is_empty() && rec.state != required {
        return Err(EpsError::WrongState(format!(
            "the e-prescription is {}; {otherwise}",
            rec.state
        )));
    }
    let (pharmacy_code, _) = pharmacy_of(conn, ctx, a.pharmacy_id)?;
    let req = crate::domain::eps::messages::Request {
        operation: a.operation,
        institution_code: pharmacy_code,
        file_id: new_file_id(),
        body: vec![("PrescriptionId".into(), rec.eps_id.clone())],
    };
    let answer =
        call(conn, gw, a.pharmacy_id, &req, ctx.now.naive_utc()).and_then(|r| match r.error() {
            Some(kind) => Err(EpsError::refused(kind, None)),
            None => Ok(r),
        });
    match answer {
        Ok(r) => Ok((rec, r)),
        Err(e) => {
            audit::record_alone(
                conn,
                ctx,
                Event::failed(Some(a.pharmacy_id), a.action)
                    .subject("prescription", a.rx_id)
                    .detail(e.to_string().chars().take(300).collect::<String>()),
            )?;
            Err(e)
        }
    }
}

/// Cancels this pharmacy's acceptance (受付取消), or rejects the prescription with a
/// reason (調剤拒否), which also hands it back to the service. Refused once dispensed.
pub fn cancel_acceptance(
    conn: &mut DbConnection,
    gw: Option<&Gateway>,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    reason: Option<&str>,
    reject: bool,
) -> Result<Prescription, EpsError> {
    let action = if reject {
        "prescription.rejected"
    } else {
        "eps.acceptance_cancelled"
    };
    // Handing a prescription back is counter work; refusing to dispense is the
    // pharmacist's decision.
    let permission = if reject {
        Permission::Dispense
    } else {
        Permission::WritePatients
    };
    crate::authz::require::<EpsError>(
        conn,
        ctx,
        pharmacy_id,
        permission,
        action,
        Some(("prescription", rx_id)),
    )?;
    let reason = crate::domain::text::optional(reason);
    if reject && reason.is_none() {
        return Err(reason_required());
    }
    let (rec, response) = ask(
        conn,
        gw,
        ctx,
        &Ask {
            pharmacy_id,
            rx_id,
            action,
            operation: Operation::CancelAcceptance,
            state: (
                "accepted",
                "a dispensed prescription's acceptance cannot be cancelled",
            ),
        },
    )?;
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let n = diesel::update(
            prescriptions::table
                .find((pharmacy_id, rx_id))
                .filter(prescriptions::status.eq("checked")),
        )
        .set((
            prescriptions::status.eq("cancelled"),
            prescriptions::closed_reason.eq(&reason),
            prescriptions::updated_at.eq(now),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(EpsError::WrongState(
                "the prescription changed meanwhile".into(),
            ));
        }
        diesel::update(eps_prescriptions::table.find((pharmacy_id, rx_id)))
            .set((
                eps_prescriptions::state.eq(if reject {
                    "rejected"
                } else {
                    "acceptance_cancelled"
                }),
                eps_prescriptions::eps_status
                    .eq(response.prescription_status.as_deref().unwrap_or("未受付")),
                eps_prescriptions::updated_at.eq(now),
            ))
            .execute(c)?;
        diesel::delete(eps_claims::table.find((pharmacy_id, &rec.access_code))).execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), action)
                .subject("prescription", rx_id)
                .detail(reason.clone().unwrap_or_default()),
        )?;
        Ok(())
    })?;
    Ok(rx::load_on(conn, pharmacy_id, rx_id, Some(ctx.today()))?)
}

/// Asks the service for the prescription's status and stores it.
pub fn refresh_status(
    conn: &mut DbConnection,
    gw: Option<&Gateway>,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
) -> Result<Prescription, EpsError> {
    let action = "eps.status_checked";
    crate::authz::require::<EpsError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        action,
        Some(("prescription", rx_id)),
    )?;
    let (_, response) = ask(
        conn,
        gw,
        ctx,
        &Ask {
            pharmacy_id,
            rx_id,
            action,
            operation: Operation::Status,
            state: ("", ""),
        },
    )?;
    let status = response.prescription_status.unwrap_or_default();
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        diesel::update(eps_prescriptions::table.find((pharmacy_id, rx_id)))
            .set((
                eps_prescriptions::eps_status.eq(&status),
                eps_prescriptions::updated_at.eq(now),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), action)
                .subject("prescription", rx_id)
                .detail(format!("status: {status}")),
        )
    })?;
    Ok(rx::load_on(conn, pharmacy_id, rx_id, Some(ctx.today()))?)
}

/// Cancels a registered dispensing result (調剤結果の取消), e.g. after a dispensing
/// error was found: the service is told first, then the dispensing record is removed
/// and the prescription can be dispensed (and its result registered) again.
pub fn cancel_result(
    conn: &mut DbConnection,
    gw: Option<&Gateway>,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    reason: Option<&str>,
) -> Result<Prescription, EpsError> {
    let action = "eps.result_cancelled";
    crate::authz::require::<EpsError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        action,
        Some(("prescription", rx_id)),
    )?;
    let reason = crate::domain::text::optional(reason).ok_or_else(reason_required)?;
    let (rec, response) = ask(
        conn,
        gw,
        ctx,
        &Ask {
            pharmacy_id,
            rx_id,
            action,
            operation: Operation::CancelResult,
            state: (
                "registered",
                "only a registered dispensing result can be cancelled",
            ),
        },
    )?;
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        diesel::delete(
            dispensed_items::table
                .filter(dispensed_items::pharmacy_id.eq(pharmacy_id))
                .filter(dispensed_items::prescription_id.eq(rx_id)),
        )
        .execute(c)?;
        diesel::update(prescriptions::table.find((pharmacy_id, rx_id)))
            .set((
                prescriptions::status.eq("checked"),
                prescriptions::dispensed_at.eq(None::<NaiveDateTime>),
                prescriptions::updated_at.eq(now),
            ))
            .execute(c)?;
        diesel::update(eps_prescriptions::table.find((pharmacy_id, rx_id)))
            .set((
                eps_prescriptions::state.eq("accepted"),
                eps_prescriptions::eps_status
                    .eq(response.prescription_status.as_deref().unwrap_or("調剤中")),
                eps_prescriptions::registered_at.eq(None::<NaiveDateTime>),
                eps_prescriptions::result_job_id.eq(None::<String>),
                eps_prescriptions::updated_at.eq(now),
            ))
            .execute(c)?;
        // Held by this pharmacy again until a new result is registered.
        diesel::insert_into(eps_claims::table)
            .values((
                eps_claims::pharmacy_id.eq(pharmacy_id),
                eps_claims::access_code.eq(&rec.access_code),
                eps_claims::claimed_by.eq(&rec.accepted_by),
                eps_claims::claimed_at.eq(now),
                eps_claims::prescription_id.eq(Some(rx_id)),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), action)
                .subject("prescription", rx_id)
                .detail(reason.clone()),
        )?;
        Ok::<_, EpsError>(())
    })?;
    Ok(rx::load_on(conn, pharmacy_id, rx_id, Some(ctx.today()))?)
}
