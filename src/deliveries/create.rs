//! Creating a delivery: from one patient's dispensed prescriptions whose
//! guidance is completed, the method judged from the contents' flags.

use diesel::prelude::*;

use super::{invalid, load, local, step, DeliveryDetail, DeliveryError, DeliveryInput};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::backend::is_unique_violation;
use crate::db::schema::{
    deliveries, delivery_custody, delivery_items, delivery_prescriptions, dispensed_items,
    patients, prescriptions,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::delivery::rules::{judge, transit_range, ContentFlags, Method, State};
use crate::domain::drug_master::Flag;
use crate::domain::role::Permission;

type ItemRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
);

/// Creates a delivery (clerks and pharmacists; the method confirmation counts only
/// from a pharmacist). Refused when a prescription is not dispensed, belongs to
/// another patient or delivery, or its guidance is not completed, and when the
/// contents do not allow the method.
pub fn create(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    input: &DeliveryInput,
) -> Result<DeliveryDetail, DeliveryError> {
    crate::authz::require::<DeliveryError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "delivery.created",
        None,
    )?;
    let method = Method::parse(&input.method)
        .ok_or_else(|| invalid("method", "pharmacy_staff, courier, pickup のいずれか"))?;
    if input.prescription_ids.is_empty() {
        return Err(invalid(
            "prescription_ids",
            "処方箋を選んでください (no prescription)",
        ));
    }
    let (start, end) = (
        local("window_start", &input.window_start)?,
        local("window_end", &input.window_end)?,
    );
    if end <= start {
        return Err(invalid("window_end", "終了は開始より後 (end after start)"));
    }
    let pharmacist = ctx.actor.require(pharmacy_id, Permission::Dispense).is_ok();
    let confirmed = input.confirm_method && pharmacist;
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now.naive_utc();
    // Inner errors keep what was written (the refusal's audit row); outer ones roll back.
    let outcome = write_transaction(
        conn,
        |c| -> Result<Result<DeliveryDetail, DeliveryError>, DeliveryError> {
            let mut patient: Option<String> = None;
            let mut not_held = Vec::new();
            for rx in &input.prescription_ids {
                let (status, pat): (String, String) = prescriptions::table
                    .find((pharmacy_id, rx))
                    .select((prescriptions::status, prescriptions::patient_id))
                    .first(c)
                    .optional()?
                    .ok_or_else(|| {
                        invalid("prescription_ids", format!("処方箋 {rx} がありません"))
                    })?;
                if status != "dispensed" {
                    return Err(invalid(
                        "prescription_ids",
                        format!("処方箋 {rx} は調剤済みではありません"),
                    ));
                }
                if patient.as_ref().is_some_and(|p| *p != pat) {
                    return Err(invalid(
                        "prescription_ids",
                        "一人の患者の処方箋だけをまとめられます",
                    ));
                }
                patient = Some(pat);
                if !crate::guidance::conduct::guidance_completed(c, pharmacy_id, rx)? {
                    not_held.push(rx.clone());
                }
            }
            let patient = patient.unwrap_or_default();
            if !not_held.is_empty() {
                audit::record(
                    c,
                    ctx,
                    Event::denied(Some(pharmacy_id), "delivery.created")
                        .detail(format!("guidance not completed: {}", not_held.join(", "))),
                )?;
                return Ok(Err(DeliveryError::GuidanceNotCompleted(
                    not_held.join(", "),
                )));
            }
            let rows: Vec<ItemRow> = dispensed_items::table
                .filter(dispensed_items::pharmacy_id.eq(pharmacy_id))
                .filter(dispensed_items::prescription_id.eq_any(&input.prescription_ids))
                .select((
                    dispensed_items::id,
                    dispensed_items::prescription_id,
                    dispensed_items::drug_code,
                    dispensed_items::drug_name,
                    dispensed_items::yj_code,
                    dispensed_items::quantity,
                    dispensed_items::lot_number,
                ))
                .load(c)?;
            let mut flags = Vec::with_capacity(rows.len());
            let mut ranges = Vec::with_capacity(rows.len());
            for r in &rows {
                let product = match &r.4 {
                    Some(yj) => crate::drugs::lookup(c, yj)?.into_iter().next(),
                    None => None,
                };
                let f = |g: fn(&crate::drugs::Product) -> Flag| {
                    product.as_ref().map(g).unwrap_or(Flag::Unknown)
                };
                ranges.push(transit_range(
                    product.as_ref().and_then(|p| p.storage_min_c),
                    product.as_ref().and_then(|p| p.storage_max_c),
                    f(|p| p.refrigerated),
                ));
                flags.push(ContentFlags {
                    name: r.3.clone(),
                    narcotic: f(|p| p.narcotic),
                    psychotropic: f(|p| p.psychotropic),
                    stimulant_precursor: f(|p| p.stimulant_precursor),
                    poison: f(|p| p.poison),
                    refrigerated: f(|p| p.refrigerated),
                });
            }
            let verdict = judge(method, &flags);
            // Controlled or cold (or unknown) contents: an unconfirmed receipt is followed up.
            let needs_followup = flags.iter().any(|f| {
                [
                    f.narcotic,
                    f.psychotropic,
                    f.stimulant_precursor,
                    f.refrigerated,
                ]
                .iter()
                .any(|x| *x != Flag::No)
            });
            if !verdict.refused.is_empty() {
                return Ok(Err(DeliveryError::MethodRefused(
                    verdict.refused.join("、"),
                )));
            }
            if !verdict.allowed(confirmed) {
                return Ok(Err(DeliveryError::NeedsConfirmation(
                    verdict.needs_confirmation.join("、"),
                )));
            }
            let destination = match input.destination.as_deref().map(str::trim) {
                Some(d) if !d.is_empty() => d.to_string(),
                _ => patients::table
                    .find((pharmacy_id, &patient))
                    .select(patients::address)
                    .first::<Option<String>>(c)?
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| {
                        invalid(
                            "destination",
                            "届け先を入力してください（患者の住所が未登録）",
                        )
                    })?,
            };
            let mut requirements = verdict.needs_confirmation.clone();
            if verdict.needs_logger {
                requirements.push("温度ロガー同梱".into());
            }
            diesel::insert_into(deliveries::table)
                .values((
                    deliveries::pharmacy_id.eq(pharmacy_id),
                    deliveries::id.eq(&id),
                    deliveries::patient_id.eq(&patient),
                    deliveries::method.eq(method.as_str()),
                    deliveries::state.eq(State::Prepared.as_str()),
                    deliveries::destination.eq(&destination),
                    deliveries::recipient_rules
                        .eq(crate::domain::text::normalize(&input.recipient_rules)),
                    deliveries::handling_notes
                        .eq(crate::domain::text::normalize(&input.handling_notes)),
                    deliveries::window_start.eq(start),
                    deliveries::window_end.eq(end),
                    deliveries::requirements.eq(requirements.join("、")),
                    deliveries::needs_logger.eq(verdict.needs_logger),
                    deliveries::method_confirmed_by
                        .eq((!verdict.needs_confirmation.is_empty())
                            .then(|| ctx.actor.name.clone())),
                    deliveries::version.eq(1),
                    deliveries::needs_followup.eq(needs_followup),
                    deliveries::created_by.eq(&ctx.actor.name),
                    deliveries::created_at.eq(now),
                    deliveries::updated_at.eq(now),
                ))
                .execute(c)?;
            diesel::insert_into(delivery_custody::table)
                .values((
                    delivery_custody::pharmacy_id.eq(pharmacy_id),
                    delivery_custody::delivery_id.eq(&id),
                ))
                .execute(c)?;
            for rx in &input.prescription_ids {
                diesel::insert_into(delivery_prescriptions::table)
                    .values((
                        delivery_prescriptions::pharmacy_id.eq(pharmacy_id),
                        delivery_prescriptions::prescription_id.eq(rx),
                        delivery_prescriptions::delivery_id.eq(&id),
                    ))
                    .execute(c)?;
            }
            for (r, range) in rows.iter().zip(&ranges) {
                diesel::insert_into(delivery_items::table)
                    .values((
                        delivery_items::pharmacy_id.eq(pharmacy_id),
                        delivery_items::delivery_id.eq(&id),
                        delivery_items::dispensed_item_id.eq(&r.0),
                        delivery_items::prescription_id.eq(&r.1),
                        delivery_items::product_code.eq(&r.2),
                        delivery_items::product_name.eq(&r.3),
                        delivery_items::quantity.eq(&r.5),
                        delivery_items::lot.eq(&r.6),
                        delivery_items::label_range.eq(Some(range)),
                    ))
                    .execute(c)?;
            }
            step(c, ctx, pharmacy_id, &id, State::Prepared, "薬局", "")?;
            audit::record(
                c,
                ctx,
                Event::ok(Some(pharmacy_id), "delivery.created")
                    .subject("delivery", &id)
                    .detail(format!(
                        "{} prescription(s), method {}{}",
                        input.prescription_ids.len(),
                        method.as_str(),
                        if requirements.is_empty() {
                            String::new()
                        } else {
                            format!("; {}", requirements.join("、"))
                        }
                    )),
            )?;
            Ok(Ok(load(c, pharmacy_id, &id)?))
        },
    );
    match outcome {
        Ok(inner) => inner,
        Err(DeliveryError::Db(e)) if is_unique_violation(&e) => Err(DeliveryError::WrongState(
            "処方箋は別の配送に含まれています (already in another delivery)".into(),
        )),
        Err(e) => Err(e),
    }
}
