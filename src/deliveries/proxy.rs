//! What the pharmacy does for a handover from the counter: confirming by phone a
//! family member or carer who will receive the parcel, and sending the patient a
//! new handover code (after a lock, or a lost notice).

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::handover::new_code;
use super::{invalid, load, DeliveryDetail, DeliveryError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{deliveries, delivery_custody};
use crate::db::{write_transaction, DbConnection};
use crate::domain::role::Permission;
use crate::notices::OutboxConfig;

/// A family member or carer the pharmacy confirmed by phone.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct ProxyInput {
    pub name: String,
    /// 続柄 (妻, 長男, ケアマネジャー ...).
    pub relation: String,
    /// What was said on the phone (who answered, when).
    pub note: String,
}

/// Records the pharmacy's phone confirmation of a proxy recipient (staff only;
/// a courier cannot confirm for the pharmacy).
pub fn confirm_proxy(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    input: &ProxyInput,
) -> Result<DeliveryDetail, DeliveryError> {
    crate::authz::require::<DeliveryError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "delivery.proxy_confirmed",
        Some(("delivery", id)),
    )?;
    let (name, relation) = (
        crate::domain::text::normalize(&input.name),
        crate::domain::text::normalize(&input.relation),
    );
    if name.is_empty() || relation.is_empty() {
        return Err(invalid("name", "氏名と続柄を入力してください"));
    }
    let note = crate::domain::text::normalize(&input.note);
    if note.is_empty() {
        return Err(invalid("note", "電話確認の内容を入力してください"));
    }
    write_transaction(conn, |c| {
        let d = load(c, pharmacy_id, id)?.delivery;
        if d.recipient_rules.contains("本人のみ") {
            return Err(DeliveryError::WrongState(
                "本人のみ受け取り可の配送です".into(),
            ));
        }
        if matches!(d.state.as_str(), "delivered" | "returned_to_pharmacy") {
            return Err(DeliveryError::WrongState("配送は終わっています".into()));
        }
        diesel::update(deliveries::table.find((pharmacy_id, id)))
            .set((
                deliveries::version.eq(d.version + 1),
                deliveries::updated_at.eq(ctx.now.naive_utc()),
            ))
            .execute(c)?;
        diesel::update(delivery_custody::table.find((pharmacy_id, id)))
            .set((
                delivery_custody::proxy_name.eq(Some(&name)),
                delivery_custody::proxy_relation.eq(Some(&relation)),
                delivery_custody::proxy_confirmed_by.eq(Some(&ctx.actor.name)),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "delivery.proxy_confirmed")
                .subject("delivery", id)
                .detail(format!("{name} ({relation}); {note}")),
        )?;
        load(c, pharmacy_id, id)
    })
}

/// A new handover code (staff; after a lock, or when the patient lost the
/// notice): attempts reset, the shipped notice sent again with the new code.
pub fn reissue_code(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    id: &str,
) -> Result<DeliveryDetail, DeliveryError> {
    crate::authz::require::<DeliveryError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "delivery.code_reissued",
        Some(("delivery", id)),
    )?;
    write_transaction(conn, |c| {
        let d = load(c, pharmacy_id, id)?.delivery;
        if !matches!(
            d.state.as_str(),
            "handed_to_courier" | "out_for_delivery" | "failed_attempt"
        ) {
            return Err(DeliveryError::WrongState(
                "発送後・お渡し前の配送だけです".into(),
            ));
        }
        let code = new_code(c, pharmacy_id, id)?;
        super::notify::notice(c, ctx, outbox, pharmacy_id, id, "shipped", &code, "")?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "delivery.code_reissued").subject("delivery", id),
        )?;
        load(c, pharmacy_id, id)
    })
}
