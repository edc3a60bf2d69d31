//! Moving a delivery on one step at a time (sealed with its seal number and
//! logger, handed to the courier with a fresh handover code and the shipped
//! notice, out for delivery, failed attempt with the next attempt, returned).

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{carrier, invalid, load, local, step, Carrier, DeliveryDetail, DeliveryError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{deliveries, delivery_custody, memberships};
use crate::db::{write_transaction, DbConnection};
use crate::domain::delivery::rules::State;
use crate::notices::OutboxConfig;

/// A step as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct StepInput {
    /// sealed, handed_to_courier, out_for_delivery, failed_attempt or returned_to_pharmacy
    pub state: String,
    /// Where it happened.
    pub place: String,
    pub note: String,
    /// Required for sealed.
    pub seal_number: Option<String>,
    /// Required for sealed when the contents need a logger: its serial number ...
    pub logger_serial: Option<String>,
    /// ... and its recording interval in seconds (10 – 3600).
    pub logger_interval_seconds: Option<i32>,
    /// Required for handed_to_courier: a staff account with the courier role
    /// (or, for pharmacy-staff delivery, any staff member of the pharmacy).
    pub courier_id: Option<String>,
    /// For failed_attempt: the next attempt, Japan time `YYYY-MM-DDTHH:MM`
    /// (without one, the parcel is to be returned).
    pub next_attempt: Option<String>,
}

/// Whether `s` may name a logger (letters, digits, `-`, `_`; 1-64).
pub(crate) fn serial_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Moves a delivery one step (staff; the assigned courier for the steps on the
/// road: out for delivery, failed attempt, returned). Audited. Handing to the
/// courier makes a new handover code and queues the shipped notice with it; the
/// road steps queue their notices. Handover to the recipient is confirmed
/// separately ([`super::hand_over`]).
pub fn advance(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    id: &str,
    input: &StepInput,
) -> Result<DeliveryDetail, DeliveryError> {
    let who = carrier(conn, ctx, pharmacy_id, id, "delivery.step")?;
    let to = State::parse(input.state.trim())
        .filter(|s| *s != State::Delivered && *s != State::Prepared)
        .ok_or_else(|| {
            invalid(
                "state",
                "sealed, handed_to_courier, out_for_delivery, failed_attempt, returned_to_pharmacy のいずれか",
            )
        })?;
    if who == Carrier::AssignedCourier
        && !matches!(
            to,
            State::OutForDelivery | State::FailedAttempt | State::ReturnedToPharmacy
        )
    {
        return Err(DeliveryError::NotAssigned);
    }
    let place = crate::domain::text::normalize(&input.place);
    if place.is_empty() {
        return Err(invalid("place", "場所を入力してください (where)"));
    }
    let note = crate::domain::text::normalize(&input.note);
    if to == State::FailedAttempt && note.is_empty() {
        return Err(invalid(
            "note",
            "不在などの理由を入力してください (reason required)",
        ));
    }
    let next_attempt = match input.next_attempt.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() && to == State::FailedAttempt => {
            let at = local("next_attempt", t)?;
            if at <= ctx.now.naive_utc() {
                return Err(invalid("next_attempt", "次回の日時は未来にしてください"));
            }
            Some(at)
        }
        _ => None,
    };
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| -> Result<DeliveryDetail, DeliveryError> {
        let d = load(c, pharmacy_id, id)?.delivery;
        let from = State::parse(&d.state).unwrap_or(State::Delivered);
        // A parcel the pharmacist decided to take back may come back from the road.
        let recalled = matches!(d.quarantine.as_str(), "return" | "destroy")
            && to == State::ReturnedToPharmacy
            && matches!(from, State::HandedToCourier | State::OutForDelivery);
        if !from.can_go(to) && !recalled {
            return Err(DeliveryError::WrongState(format!(
                "{} から {} へは進めません (no step may be skipped)",
                from.label(),
                to.label()
            )));
        }
        let mut seal = d.seal_number.clone();
        let mut courier = d.courier_id.clone();
        let mut logger = (d.logger_serial.clone(), d.logger_interval_seconds);
        match to {
            State::Sealed => {
                let s = input
                    .seal_number
                    .as_deref()
                    .map(crate::domain::text::normalize)
                    .unwrap_or_default();
                if s.is_empty() {
                    return Err(invalid("seal_number", "封緘番号を入力してください"));
                }
                seal = Some(s);
                if d.needs_logger {
                    let serial = input.logger_serial.clone().unwrap_or_default();
                    if !serial_ok(serial.trim()) {
                        return Err(invalid(
                            "logger_serial",
                            "温度ロガーのシリアル番号を入力してください（英数字）",
                        ));
                    }
                    let every = input.logger_interval_seconds.unwrap_or(0);
                    if !(10..=3600).contains(&every) {
                        return Err(invalid(
                            "logger_interval_seconds",
                            "記録間隔（10〜3600秒）を入力してください",
                        ));
                    }
                    logger = (Some(serial.trim().to_string()), Some(every));
                }
            }
            State::HandedToCourier => {
                let who = input.courier_id.clone().unwrap_or_default();
                let role: Option<String> = memberships::table
                    .find((pharmacy_id, &who))
                    .select(memberships::role)
                    .first(c)
                    .optional()?;
                // A contracted courier's driver has the courier role; pharmacy
                // staff (or the counter, for pickup) may be any member.
                let ok = matches!(
                    (d.method.as_str(), role.as_deref()),
                    ("courier", Some("courier")) | ("pharmacy_staff" | "pickup", Some(_))
                );
                if !ok {
                    return Err(invalid("courier_id", "この薬局の配送担当を選んでください"));
                }
                courier = Some(who);
            }
            _ => {}
        }
        diesel::update(deliveries::table.find((pharmacy_id, id)))
            .set((
                deliveries::state.eq(to.as_str()),
                deliveries::seal_number.eq(&seal),
                deliveries::courier_id.eq(&courier),
                deliveries::logger_serial.eq(&logger.0),
                deliveries::logger_interval_seconds.eq(logger.1),
                deliveries::version.eq(d.version + 1),
                deliveries::updated_at.eq(now),
            ))
            .execute(c)?;
        if next_attempt.is_some() {
            diesel::update(delivery_custody::table.find((pharmacy_id, id)))
                .set(delivery_custody::next_attempt_at.eq(next_attempt))
                .execute(c)?;
        }
        let note = match (to, next_attempt) {
            (State::FailedAttempt, Some(at)) => format!(
                "{note}（次回 {}）",
                crate::guidance::to_local(at).format("%m/%d %H:%M")
            ),
            (State::FailedAttempt, None) => format!("{note}（薬局へ持ち戻り）"),
            _ => note,
        };
        step(c, ctx, pharmacy_id, id, to, &place, &note)?;
        match to {
            State::HandedToCourier => {
                let code = super::handover::new_code(c, pharmacy_id, id)?;
                super::notify::notice(c, ctx, outbox, pharmacy_id, id, "shipped", &code, "")?;
            }
            State::OutForDelivery => {
                super::notify::notice(c, ctx, outbox, pharmacy_id, id, "out_for_delivery", "", "")?;
            }
            State::FailedAttempt => {
                super::notify::notice(
                    c,
                    ctx,
                    outbox,
                    pharmacy_id,
                    id,
                    "failed_attempt",
                    "",
                    &note,
                )?;
            }
            _ => {}
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "delivery.step")
                .subject("delivery", id)
                .detail(format!("{} → {} at {place}", d.state, to.as_str())),
        )?;
        load(c, pharmacy_id, id)
    })
}
