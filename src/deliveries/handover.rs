//! Handing the parcel over at the door (DOMAIN.md §7): to the patient with the
//! one-time 6-digit code from the shipped notice (stored hashed; a few wrong codes
//! lock it, a used code stays used), or to a family member or carer the pharmacy
//! confirmed by phone; an optional signature drawn on the screen. Refused while
//! the delivery is in quarantine, while the cold chain shows a problem, or while a
//! prescription may not be handed over (a 麻薬 dispensed from a copy before its
//! original arrived). Only the assigned courier (or pharmacy staff) hands over.
//! The pharmacy's side (phone confirmation, a new code) is in `proxy.rs`.

use chrono::Duration;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{carrier, invalid, load, step, DeliveryDetail, DeliveryError};
use crate::audit::{self, Event};
use crate::auth::hashing::{hash_password, verify_password, Verified};
use crate::context::Ctx;
use crate::db::schema::{
    deliveries, delivery_custody, delivery_items, delivery_prescriptions, dispensed_items,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::delivery::ledger::EntryKind;
use crate::domain::delivery::rules::{
    code_well_formed, judge_code, quarantine_allows_handover, CodeVerdict, State,
};
use crate::notices::OutboxConfig;

/// PBKDF2 rounds for a handover code: the attempt limit is the real guard (a
/// 6-digit code has only a million values), the hash keeps a database copy from
/// reading it directly.
const CODE_ITERATIONS: u32 = 10_000;

/// Makes a fresh handover code for delivery `id` (attempts and lock reset), stores
/// its hash and returns the code for the shipped notice.
pub(crate) fn new_code(
    c: &mut DbConnection,
    pharmacy_id: &str,
    id: &str,
) -> Result<String, DeliveryError> {
    let n = u32::from_le_bytes(crate::auth::random_bytes::<4>()) % 1_000_000;
    let code = format!("{n:06}");
    diesel::update(delivery_custody::table.find((pharmacy_id, id)))
        .set((
            delivery_custody::code_hash.eq(Some(hash_password(&code, CODE_ITERATIONS))),
            delivery_custody::code_attempts.eq(0),
            delivery_custody::code_locked.eq(false),
            delivery_custody::code_used_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(c)?;
    Ok(code)
}

/// A handover as submitted at the door.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct HandoverInput {
    /// `patient` (with the code) or `proxy` (family or carer, confirmed by phone).
    pub recipient: String,
    /// The 6-digit code from the patient's shipped notice.
    pub code: Option<String>,
    /// The proxy's name and relation (as the pharmacy confirmed them).
    pub recipient_name: Option<String>,
    pub relation: Option<String>,
    /// The signature drawn on the screen, as SVG path data (optional).
    pub signature: Option<String>,
    /// Where it happened.
    pub place: String,
}

fn signature_ok(s: &str) -> bool {
    s.len() <= 20_000
        && s.chars()
            .all(|ch| matches!(ch, 'M' | 'L' | '0'..='9' | '.' | ',' | '-' | ' '))
}

fn squash(s: &str) -> String {
    crate::domain::text::normalize(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Confirms the handover at the door (the assigned courier, or staff).
pub fn hand_over(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    followup_after: Duration,
    pharmacy_id: &str,
    id: &str,
    input: &HandoverInput,
) -> Result<DeliveryDetail, DeliveryError> {
    const ACTION: &str = "delivery.handed_over";
    carrier(conn, ctx, pharmacy_id, id, ACTION)?;
    let place = crate::domain::text::normalize(&input.place);
    if place.is_empty() {
        return Err(invalid("place", "場所を入力してください (where)"));
    }
    let signature = input
        .signature
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if signature.is_some_and(|s| !signature_ok(s)) {
        return Err(invalid("signature", "署名の形式が正しくありません"));
    }
    let proxy = match input.recipient.as_str() {
        "patient" => {
            let code = input.code.as_deref().unwrap_or("").trim();
            if !code_well_formed(code) {
                return Err(invalid("code", "6桁の受け渡しコードを入力してください"));
            }
            None
        }
        "proxy" => {
            let name = squash(input.recipient_name.as_deref().unwrap_or(""));
            let relation = squash(input.relation.as_deref().unwrap_or(""));
            if name.is_empty() || relation.is_empty() {
                return Err(invalid(
                    "recipient_name",
                    "受け取る方の氏名と続柄を入力してください",
                ));
            }
            Some((name, relation))
        }
        _ => return Err(invalid("recipient", "patient または proxy")),
    };
    let now = ctx.now.naive_utc();
    // Inner errors keep what was written (attempt counters, audit rows).
    write_transaction(
        conn,
        |c| -> Result<Result<DeliveryDetail, DeliveryError>, DeliveryError> {
            let d = load(c, pharmacy_id, id)?.delivery;
            let refuse = |c: &mut DbConnection, outcome: Event, e: DeliveryError| {
                audit::record(
                    c,
                    ctx,
                    outcome.subject("delivery", id).detail(e.to_string()),
                )?;
                Ok::<_, DeliveryError>(Err(e))
            };
            if proxy.is_none() && d.custody.code_used_at.is_some() {
                return refuse(
                    c,
                    Event::failed(Some(pharmacy_id), ACTION),
                    DeliveryError::CodeUsed,
                );
            }
            if d.state != State::OutForDelivery.as_str() {
                return Err(DeliveryError::WrongState(format!(
                    "配送中ではありません（{}） (not out for delivery)",
                    State::parse(&d.state).map(State::label).unwrap_or("?")
                )));
            }
            if !quarantine_allows_handover(&d.quarantine) {
                let why = d.quarantine_reason.clone().unwrap_or_default();
                return refuse(
                    c,
                    Event::denied(Some(pharmacy_id), ACTION),
                    DeliveryError::Quarantined(why),
                );
            }
            if d.needs_logger && d.quarantine == "none" {
                if let Some(why) =
                    super::coldchain::check_before_handover(c, ctx, outbox, pharmacy_id, &d)?
                {
                    return refuse(
                        c,
                        Event::denied(Some(pharmacy_id), ACTION),
                        DeliveryError::Quarantined(why),
                    );
                }
            }
            let received_by = match &proxy {
                None => {
                    let right = d.custody.code_hash.as_deref().is_some_and(|h| {
                        matches!(
                            verify_password(
                                input.code.as_deref().unwrap_or("").trim(),
                                h,
                                CODE_ITERATIONS
                            ),
                            Verified::Yes { .. }
                        )
                    });
                    let (verdict, attempts, locked) =
                        judge_code(d.custody.code_attempts, d.custody.code_locked, false, right);
                    if verdict != CodeVerdict::Accepted {
                        diesel::update(delivery_custody::table.find((pharmacy_id, id)))
                            .set((
                                delivery_custody::code_attempts.eq(attempts),
                                delivery_custody::code_locked.eq(locked),
                            ))
                            .execute(c)?;
                        let e = match verdict {
                            CodeVerdict::Wrong { remaining } if remaining > 0 => {
                                DeliveryError::CodeWrong { remaining }
                            }
                            CodeVerdict::Used => DeliveryError::CodeUsed,
                            _ => DeliveryError::CodeLocked,
                        };
                        return refuse(c, Event::failed(Some(pharmacy_id), ACTION), e);
                    }
                    "本人（受け渡しコード確認）".to_string()
                }
                Some((name, relation)) => {
                    let why = if d.recipient_rules.contains("本人のみ") {
                        Some("本人のみ受け取り可の配送です")
                    } else if d.custody.proxy_confirmed_by.is_none() {
                        Some("薬局による電話確認がありません")
                    } else if d.custody.proxy_name.as_deref().map(squash).as_ref() != Some(name)
                        || d.custody.proxy_relation.as_deref().map(squash).as_ref()
                            != Some(relation)
                    {
                        Some("薬局が確認した方と氏名・続柄が違います")
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        return refuse(
                            c,
                            Event::denied(Some(pharmacy_id), ACTION),
                            DeliveryError::HandoverBlocked(why.into()),
                        );
                    }
                    format!(
                        "{name}（{relation}、電話確認: {}）",
                        d.custody.proxy_confirmed_by.clone().unwrap_or_default()
                    )
                }
            };
            let rxs: Vec<String> = delivery_prescriptions::table
                .filter(delivery_prescriptions::pharmacy_id.eq(pharmacy_id))
                .filter(delivery_prescriptions::delivery_id.eq(id))
                .select(delivery_prescriptions::prescription_id)
                .load(c)?;
            let blockers = crate::prescriptions::hand_over_delivered(c, ctx, pharmacy_id, &rxs, id)
                .map_err(|e| match e {
                    crate::prescriptions::PrescriptionError::Db(d) => DeliveryError::Db(d),
                    other => DeliveryError::HandoverBlocked(other.to_string()),
                })?;
            if !blockers.is_empty() {
                return refuse(
                    c,
                    Event::denied(Some(pharmacy_id), ACTION),
                    DeliveryError::HandoverBlocked(blockers.join(" / ")),
                );
            }
            ledger_handed_over(c, ctx, pharmacy_id, id)?;
            diesel::update(deliveries::table.find((pharmacy_id, id)))
                .set((
                    deliveries::state.eq(State::Delivered.as_str()),
                    deliveries::version.eq(d.version + 1),
                    deliveries::updated_at.eq(now),
                ))
                .execute(c)?;
            diesel::update(delivery_custody::table.find((pharmacy_id, id)))
                .set((
                    delivery_custody::delivered_at.eq(Some(now)),
                    delivery_custody::received_by.eq(Some(&received_by)),
                    delivery_custody::signature.eq(signature),
                    delivery_custody::code_used_at.eq(proxy.is_none().then_some(now)),
                    delivery_custody::followup_at
                        .eq(d.needs_followup.then(|| now + followup_after)),
                ))
                .execute(c)?;
            step(
                c,
                ctx,
                pharmacy_id,
                id,
                State::Delivered,
                &place,
                &received_by,
            )?;
            super::notify::notice(c, ctx, outbox, pharmacy_id, id, "delivered", "", "")?;
            audit::record(
                c,
                ctx,
                Event::ok(Some(pharmacy_id), ACTION)
                    .subject("delivery", id)
                    .detail(format!(
                        "to {received_by} at {place}{}",
                        if signature.is_some() { ", signed" } else { "" }
                    )),
            )?;
            Ok(Ok(load(c, pharmacy_id, id)?))
        },
    )?
}

/// 交付 entries in the controlled-drug ledger for the delivered products the
/// pharmacy keeps a ledger of (the balance moved when they were dispensed).
fn ledger_handed_over(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<(), DeliveryError> {
    let rows: Vec<(Option<String>, String, Option<String>)> = delivery_items::table
        .inner_join(
            dispensed_items::table.on(dispensed_items::pharmacy_id
                .eq(delivery_items::pharmacy_id)
                .and(dispensed_items::id.eq(delivery_items::dispensed_item_id))),
        )
        .filter(delivery_items::pharmacy_id.eq(pharmacy_id))
        .filter(delivery_items::delivery_id.eq(id))
        .select((
            dispensed_items::yj_code,
            delivery_items::quantity,
            delivery_items::lot,
        ))
        .load(c)?;
    for (yj, quantity, lot) in rows {
        let Some(yj) = yj else { continue };
        if !crate::ledger::keeps_ledger(c, pharmacy_id, &yj)? {
            continue;
        }
        let Some(q) = crate::ledger::whole_quantity(&quantity) else {
            continue;
        };
        let unit = crate::ledger::unit_of(&quantity);
        crate::ledger::append(
            c,
            ctx,
            pharmacy_id,
            &crate::ledger::NewEntry {
                product: &yj,
                kind: EntryKind::HandedOver,
                quantity: q,
                unit: &unit,
                lot: lot.as_deref().unwrap_or(""),
                witness: "",
                reference: id,
                note: "配送",
            },
        )
        .map_err(|e| match e {
            crate::ledger::LedgerError::Db(d) => DeliveryError::Db(d),
            other => DeliveryError::HandoverBlocked(format!("麻薬帳簿: {other}")),
        })?;
    }
    Ok(())
}
