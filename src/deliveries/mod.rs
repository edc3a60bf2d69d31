//! Home deliveries (DOMAIN.md §7), first part: a delivery is made of dispensed
//! prescriptions of one patient whose guidance is completed; its contents decide
//! which methods are allowed (麻薬 never by a contracted courier; 向精神薬, 覚醒剤原料,
//! 毒薬 and unknown flags only with a pharmacist's confirmation; refrigerated
//! products travel with a temperature logger); it then passes prepared → sealed →
//! handed to courier → out for delivery → delivered / failed attempt → returned,
//! every step recorded with who, when and where, none skipped.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::backend::is_unique_violation;
use crate::db::schema::{
    deliveries, delivery_events, delivery_items, delivery_prescriptions, dispensed_items,
    memberships, patients, prescriptions,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::delivery::rules::{judge, ContentFlags, Method, State};
use crate::domain::drug_master::Flag;
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
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<Denied> for DeliveryError {
    fn from(d: Denied) -> Self {
        DeliveryError::Forbidden(d)
    }
}

fn invalid(field: &str, m: impl Into<String>) -> DeliveryError {
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
}

/// A delivery with its contents and timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryDetail {
    pub delivery: Delivery,
    pub contents: Vec<Content>,
    pub timeline: Vec<Step>,
}

fn local(field: &str, s: &str) -> Result<NaiveDateTime, DeliveryError> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M")
        .map(crate::guidance::to_utc)
        .map_err(|_| invalid(field, "YYYY-MM-DDTHH:MM（日本時間）"))
}

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
            for r in &rows {
                let product = match &r.4 {
                    Some(yj) => crate::drugs::lookup(c, yj)?.into_iter().next(),
                    None => None,
                };
                let f = |g: fn(&crate::drugs::Product) -> Flag| {
                    product.as_ref().map(g).unwrap_or(Flag::Unknown)
                };
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
                    deliveries::created_by.eq(&ctx.actor.name),
                    deliveries::created_at.eq(now),
                    deliveries::updated_at.eq(now),
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
            for r in &rows {
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

fn step(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    state: State,
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
            delivery_events::state.eq(state.as_str()),
            delivery_events::actor.eq(&ctx.actor.name),
            delivery_events::place.eq(place),
            delivery_events::note.eq(note),
            delivery_events::occurred_at.eq(ctx.now.naive_utc()),
        ))
        .execute(c)?;
    Ok(())
}

fn load(
    c: &mut DbConnection,
    pharmacy_id: &str,
    id: &str,
) -> Result<DeliveryDetail, DeliveryError> {
    let delivery = deliveries::table
        .find((pharmacy_id, id))
        .select(Delivery::as_select())
        .first(c)
        .optional()?
        .ok_or(DeliveryError::NotFound)?;
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
    /// Required for handed_to_courier: a staff account with the courier role
    /// (or, for pharmacy-staff delivery, any staff member of the pharmacy).
    pub courier_id: Option<String>,
}

/// Moves a delivery one step (staff; audited). Handover to the recipient is
/// confirmed separately (not by this step).
pub fn advance(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    input: &StepInput,
) -> Result<DeliveryDetail, DeliveryError> {
    crate::authz::require::<DeliveryError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "delivery.step",
        Some(("delivery", id)),
    )?;
    let to = State::parse(input.state.trim())
        .filter(|s| *s != State::Delivered && *s != State::Prepared)
        .ok_or_else(|| {
            invalid(
                "state",
                "sealed, handed_to_courier, out_for_delivery, failed_attempt, returned_to_pharmacy のいずれか",
            )
        })?;
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
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| -> Result<DeliveryDetail, DeliveryError> {
        let d = load(c, pharmacy_id, id)?.delivery;
        let from = State::parse(&d.state).unwrap_or(State::Delivered);
        if !from.can_go(to) {
            return Err(DeliveryError::WrongState(format!(
                "{} から {} へは進めません (no step may be skipped)",
                from.label(),
                to.label()
            )));
        }
        let mut seal = d.seal_number.clone();
        let mut courier = d.courier_id.clone();
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
                deliveries::version.eq(d.version + 1),
                deliveries::updated_at.eq(now),
            ))
            .execute(c)?;
        step(c, ctx, pharmacy_id, id, to, &place, &note)?;
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
