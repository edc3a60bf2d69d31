//! Home deliveries (DOMAIN.md §7), first part: a delivery is made of dispensed
//! prescriptions of one patient whose guidance is completed; its contents decide
//! which methods are allowed (麻薬 never by a contracted courier; 向精神薬, 覚醒剤原料,
//! 毒薬 and unknown flags only with a pharmacist's confirmation; refrigerated
//! products travel with a temperature logger); it then passes prepared → sealed →
//! handed to courier → out for delivery → delivered / failed attempt → returned,
//! every step recorded with who, when and where, none skipped.

mod coldchain;
mod create;
pub mod demo;
mod handover;
mod notify;
mod proxy;
mod steps;
mod views;

pub use coldchain::{
    decide_quarantine, ingest, ingest_csv, store_readings, trip, DecisionInput, Ingested,
    ProductTrip, ReadingInput, ReadingsBatch, Trip,
};
pub use create::create;
pub use handover::{hand_over, HandoverInput};
pub use notify::{confirm_receipt, followup_sweep, receipt_view, ReceiptView};
pub use proxy::{confirm_proxy, reissue_code, ProxyInput};
pub use steps::{advance, StepInput};
pub use views::{board, carriers, courier_list, courier_view, BoardRow, CourierStop};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::schema::{deliveries, delivery_custody, delivery_events, delivery_items};
use crate::db::DbConnection;
use crate::domain::delivery::rules::State;
use crate::domain::fields::FieldErrors;
use crate::domain::role::Permission;

/// Why a delivery operation failed. Nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("見つかりません (not found)")]
    NotFound,
    #[error("服薬指導が完了していない処方箋があります: {0} (guidance not completed)")]
    GuidanceNotCompleted(String),
    #[error("この配送方法は使えません: {0} (method not allowed)")]
    MethodRefused(String),
    #[error("薬剤師による配送方法の確認が必要です: {0} (a pharmacist must confirm the method)")]
    NeedsConfirmation(String),
    #[error("この状態ではできません: {0}")]
    WrongState(String),
    #[error("この配送の担当ではありません (not assigned to this delivery)")]
    NotAssigned,
    #[error("受け渡しコードが違います（残り{remaining}回） (wrong handover code)")]
    CodeWrong { remaining: i32 },
    #[error(
        "受け渡しコードは誤入力が続いたためロックされました。薬局にご連絡ください (code locked)"
    )]
    CodeLocked,
    #[error("この受け渡しコードは使用済みです (code already used)")]
    CodeUsed,
    #[error("温度逸脱のため保留中です。薬剤師の判断が必要です: {0} (quarantined)")]
    Quarantined(String),
    #[error("お渡しできません: {0} (handover blocked)")]
    HandoverBlocked(String),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<Denied> for DeliveryError {
    fn from(d: Denied) -> Self {
        DeliveryError::Forbidden(d)
    }
}

pub(crate) fn invalid(field: &str, m: impl Into<String>) -> DeliveryError {
    let mut f = FieldErrors::new();
    f.add(field, m);
    DeliveryError::Invalid(f)
}

/// A delivery as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct DeliveryInput {
    /// Dispensed prescriptions of one patient.
    pub prescription_ids: Vec<String>,
    /// pharmacy_staff, courier or pickup
    pub method: String,
    /// Default: the patient's address.
    pub destination: Option<String>,
    /// Who may receive (本人のみ, 家族可 ...).
    pub recipient_rules: String,
    pub handling_notes: String,
    /// Japan time `YYYY-MM-DDTHH:MM`.
    pub window_start: String,
    pub window_end: String,
    /// A pharmacist confirms the method (needed for 向精神薬, 毒薬, unknown flags...).
    pub confirm_method: bool,
}

/// A delivery as stored (times UTC).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = deliveries)]
pub struct Delivery {
    pub id: String,
    pub patient_id: String,
    pub method: String,
    pub state: String,
    pub destination: String,
    pub recipient_rules: String,
    pub handling_notes: String,
    #[schema(value_type = String, format = DateTime)]
    pub window_start: NaiveDateTime,
    #[schema(value_type = String, format = DateTime)]
    pub window_end: NaiveDateTime,
    /// Why the method needed a confirmation or a logger (、-separated).
    pub requirements: String,
    pub needs_logger: bool,
    pub method_confirmed_by: Option<String>,
    pub courier_id: Option<String>,
    pub seal_number: Option<String>,
    pub version: i32,
    /// The handover: code, proxy, receipt.
    #[diesel(embed)]
    #[serde(flatten)]
    pub custody: Custody,
    pub logger_serial: Option<String>,
    pub logger_interval_seconds: Option<i32>,
    /// none, quarantined, or the pharmacist's decision: use, return, destroy.
    pub quarantine: String,
    pub quarantine_reason: Option<String>,
    pub quarantine_decided_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub quarantine_decided_at: Option<NaiveDateTime>,
    /// Controlled or refrigerated contents: an unconfirmed receipt is followed up.
    pub needs_followup: bool,
}

/// Who received a delivery and how (the handover code, the proxy
/// confirmed by phone, the signature, the patient's receipt confirmation).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = delivery_custody)]
pub struct Custody {
    /// Never serialised: the hash of the handover code.
    #[serde(skip)]
    pub code_hash: Option<String>,
    /// Wrong handover codes so far.
    pub code_attempts: i32,
    pub code_locked: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub code_used_at: Option<NaiveDateTime>,
    /// A family member or carer the pharmacy confirmed by phone.
    pub proxy_name: Option<String>,
    pub proxy_relation: Option<String>,
    pub proxy_confirmed_by: Option<String>,
    /// Who received the parcel (本人, or name and relation).
    pub received_by: Option<String>,
    /// The recipient's signature (SVG path data), when drawn.
    pub signature: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<NaiveDateTime>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<NaiveDateTime>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub receipt_confirmed_at: Option<NaiveDateTime>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub followup_at: Option<NaiveDateTime>,
}

/// Delivery `id` with its custody row.
pub(crate) fn find(
    c: &mut DbConnection,
    pharmacy_id: &str,
    id: &str,
) -> QueryResult<Option<Delivery>> {
    deliveries::table
        .inner_join(
            delivery_custody::table.on(delivery_custody::pharmacy_id
                .eq(deliveries::pharmacy_id)
                .and(delivery_custody::delivery_id.eq(deliveries::id))),
        )
        .filter(deliveries::pharmacy_id.eq(pharmacy_id))
        .filter(deliveries::id.eq(id))
        .select(Delivery::as_select())
        .first(c)
        .optional()
}

/// One step of a delivery.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = delivery_events)]
pub struct Step {
    pub seq: i32,
    pub state: String,
    pub actor: String,
    pub place: String,
    pub note: String,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: NaiveDateTime,
}

/// One product in the parcel.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = delivery_items)]
pub struct Content {
    pub prescription_id: String,
    pub product_code: String,
    pub product_name: String,
    pub quantity: String,
    pub lot: Option<String>,
    /// The range it is checked against in transit (`2-8`, 室温 ...).
    pub label_range: Option<String>,
}

/// A delivery with its contents and timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryDetail {
    pub delivery: Delivery,
    pub contents: Vec<Content>,
    pub timeline: Vec<Step>,
}

pub(crate) fn local(field: &str, s: &str) -> Result<NaiveDateTime, DeliveryError> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M")
        .map(crate::guidance::to_utc)
        .map_err(|_| invalid(field, "YYYY-MM-DDTHH:MM（日本時間）"))
}

pub(crate) fn step(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    state: State,
    place: &str,
    note: &str,
) -> QueryResult<()> {
    step_named(c, ctx, pharmacy_id, id, state.as_str(), place, note)
}

/// A timeline entry that is not a state (quarantine, its decision).
pub(crate) fn step_named(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    state: &str,
    place: &str,
    note: &str,
) -> QueryResult<()> {
    let last: Option<i32> = delivery_events::table
        .filter(delivery_events::pharmacy_id.eq(pharmacy_id))
        .filter(delivery_events::delivery_id.eq(id))
        .select(diesel::dsl::max(delivery_events::seq))
        .first(c)?;
    diesel::insert_into(delivery_events::table)
        .values((
            delivery_events::pharmacy_id.eq(pharmacy_id),
            delivery_events::delivery_id.eq(id),
            delivery_events::seq.eq(last.unwrap_or(0) + 1),
            delivery_events::state.eq(state),
            delivery_events::actor.eq(&ctx.actor.name),
            delivery_events::place.eq(place),
            delivery_events::note.eq(note),
            delivery_events::occurred_at.eq(ctx.now.naive_utc()),
        ))
        .execute(c)?;
    Ok(())
}

pub(crate) fn load(
    c: &mut DbConnection,
    pharmacy_id: &str,
    id: &str,
) -> Result<DeliveryDetail, DeliveryError> {
    let delivery = find(c, pharmacy_id, id)?.ok_or(DeliveryError::NotFound)?;
    let contents = delivery_items::table
        .filter(delivery_items::pharmacy_id.eq(pharmacy_id))
        .filter(delivery_items::delivery_id.eq(id))
        .select(Content::as_select())
        .load(c)?;
    let timeline = delivery_events::table
        .filter(delivery_events::pharmacy_id.eq(pharmacy_id))
        .filter(delivery_events::delivery_id.eq(id))
        .order(delivery_events::seq.asc())
        .select(Step::as_select())
        .load(c)?;
    Ok(DeliveryDetail {
        delivery,
        contents,
        timeline,
    })
}

/// A delivery with contents and timeline (staff; audited read).
pub fn get(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<DeliveryDetail, DeliveryError> {
    crate::authz::require::<DeliveryError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "delivery.read",
        Some(("delivery", id)),
    )?;
    let d = load(conn, pharmacy_id, id)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "delivery.read").subject("delivery", id),
    )?;
    Ok(d)
}

/// Who acts on a delivery on the road.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carrier {
    /// Staff of the pharmacy (clerk, pharmacist, admin).
    Staff,
    /// The courier-role account the delivery is assigned to.
    AssignedCourier,
}

/// Staff of the pharmacy, or the courier assigned to delivery `id`; anyone else
/// (another courier, another pharmacy) is refused and the refusal audited.
pub(crate) fn carrier(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    action: &str,
) -> Result<Carrier, DeliveryError> {
    if ctx
        .actor
        .require(pharmacy_id, Permission::WritePatients)
        .is_ok()
    {
        return Ok(Carrier::Staff);
    }
    if ctx.actor.role_in(pharmacy_id) != Some(crate::domain::role::Role::Courier) {
        return crate::authz::require::<DeliveryError>(
            conn,
            ctx,
            pharmacy_id,
            Permission::WritePatients,
            action,
            Some(("delivery", id)),
        )
        .map(|_| Carrier::Staff);
    }
    let assigned: Option<Option<String>> = deliveries::table
        .find((pharmacy_id, id))
        .select(deliveries::courier_id)
        .first(conn)
        .optional()?;
    match assigned {
        None => Err(DeliveryError::NotFound),
        Some(Some(c)) if ctx.actor.user_id.as_deref() == Some(c.as_str()) => {
            Ok(Carrier::AssignedCourier)
        }
        Some(_) => {
            audit::record_alone(
                conn,
                ctx,
                Event::denied(Some(pharmacy_id), action)
                    .subject("delivery", id)
                    .detail("courier not assigned to this delivery"),
            )?;
            Err(DeliveryError::NotAssigned)
        }
    }
}
