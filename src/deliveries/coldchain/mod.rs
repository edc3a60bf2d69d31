//! The cold chain of a delivery (DOMAIN.md §7): logger readings arrive in
//! batches (JSON from loggers and phones, or a logger's CSV export), idempotent by
//! logger serial and time. Each batch is checked at once against every product's
//! own label range and for gaps longer than twice the logger interval (with the
//! neighbouring readings already stored); any problem puts the delivery in
//! quarantine, tells the patient of a delay (never of the products) and blocks the
//! handover until a pharmacist decides: use, return or destroy, with a reason.
//! The whole trip (excursions, gaps, MKT per product) is analysed on reading.

mod ingest;

pub use ingest::{ingest, ingest_csv, store_readings, Ingested, ReadingInput, ReadingsBatch};

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{invalid, load, Delivery, DeliveryError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{deliveries, delivery_items, temperature_readings};
use crate::db::{write_transaction, DbConnection};
use crate::domain::delivery::coldchain::{analyse, Analysis, LabelRange, Reading};
use crate::domain::delivery::rules::QuarantineDecision;
use crate::domain::role::Permission;
use crate::notices::OutboxConfig;

fn ranges(c: &mut DbConnection, pharmacy_id: &str, id: &str) -> QueryResult<Vec<(String, String)>> {
    let rows: Vec<(String, Option<String>)> = delivery_items::table
        .filter(delivery_items::pharmacy_id.eq(pharmacy_id))
        .filter(delivery_items::delivery_id.eq(id))
        .select((delivery_items::product_name, delivery_items::label_range))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(n, r)| (n, r.unwrap_or_else(|| "2-8".into())))
        .collect())
}

fn range_of(text: &str) -> LabelRange {
    // An unreadable stored range fails closed to 2-8 °C.
    LabelRange::parse(text).unwrap_or(LabelRange { min: 2.0, max: 8.0 })
}

fn jst(t: NaiveDateTime) -> String {
    crate::context::jst(t).format("%m/%d %H:%M").to_string()
}

/// Puts `d` in quarantine (in the caller's transaction): the state, a timeline
/// entry, the patient's delay notice (no product details) when not yet
/// delivered, an urgent task when it already was, the audit row.
pub(crate) fn quarantine(
    c: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    d: &Delivery,
    pharmacy_id: &str,
    reason: &str,
) -> Result<(), DeliveryError> {
    let now = ctx.now.naive_utc();
    diesel::update(deliveries::table.find((pharmacy_id, &d.id)))
        .set((
            deliveries::quarantine.eq("quarantined"),
            deliveries::quarantine_reason.eq(Some(reason)),
            deliveries::quarantine_decided_by.eq(None::<String>),
            deliveries::quarantine_decided_at.eq(None::<NaiveDateTime>),
            deliveries::version.eq(d.version + 1),
            deliveries::updated_at.eq(now),
        ))
        .execute(c)?;
    super::step_named(
        c,
        ctx,
        pharmacy_id,
        &d.id,
        "quarantined",
        "温度記録",
        reason,
    )?;
    if d.state == "delivered" {
        crate::tasks::ensure(
            c,
            pharmacy_id,
            &crate::tasks::NewTask {
                kind: "delivery_excursion",
                subject_type: "delivery",
                subject_id: &d.id,
                title: format!("お渡し後に温度の問題が判明: {reason}"),
                urgent: true,
                due_on: Some(ctx.today()),
            },
            now,
        )?;
    } else {
        super::notify::notice(c, ctx, outbox, pharmacy_id, &d.id, "delayed", "", "")?;
    }
    audit::record(
        c,
        ctx,
        Event::ok(Some(pharmacy_id), "delivery.quarantined")
            .subject("delivery", &d.id)
            .detail(reason.to_string()),
    )?;
    Ok(())
}

/// The trip of one product: its range and the analysis against it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductTrip {
    pub product_name: String,
    pub label_range: String,
    #[schema(value_type = Object)]
    pub analysis: Analysis,
}

/// The whole trip of a delivery's logger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Trip {
    pub logger_serial: Option<String>,
    pub interval_seconds: Option<i32>,
    #[schema(value_type = Vec<Object>)]
    pub readings: Vec<Reading>,
    pub products: Vec<ProductTrip>,
}

/// The trip of delivery `d` (no audit: callers audit).
pub(crate) fn trip_on(c: &mut DbConnection, pharmacy_id: &str, d: &Delivery) -> QueryResult<Trip> {
    let readings: Vec<Reading> = temperature_readings::table
        .filter(temperature_readings::pharmacy_id.eq(pharmacy_id))
        .filter(temperature_readings::delivery_id.eq(&d.id))
        .order(temperature_readings::recorded_at.asc())
        .select((
            temperature_readings::recorded_at,
            temperature_readings::celsius,
        ))
        .load::<(NaiveDateTime, f64)>(c)?
        .into_iter()
        .map(|(at, celsius)| Reading { at, celsius })
        .collect();
    let interval = Duration::seconds(i64::from(d.logger_interval_seconds.unwrap_or(300)));
    let products = if d.logger_serial.is_some() {
        ranges(c, pharmacy_id, &d.id)?
            .into_iter()
            .map(|(product_name, label_range)| ProductTrip {
                analysis: analyse(&readings, range_of(&label_range), interval),
                product_name,
                label_range,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Trip {
        logger_serial: d.logger_serial.clone(),
        interval_seconds: d.logger_interval_seconds,
        readings,
        products,
    })
}

/// Before a cold delivery is handed over: the whole trip must be clean and the
/// logger still reporting (no gap up to now). A problem quarantines the delivery
/// (committed with the refusal) and is returned.
pub(crate) fn check_before_handover(
    c: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    d: &Delivery,
) -> Result<Option<String>, DeliveryError> {
    let t = trip_on(c, pharmacy_id, d)?;
    let interval = Duration::seconds(i64::from(d.logger_interval_seconds.unwrap_or(300)));
    let now = ctx.now.naive_utc();
    let why = if t.readings.is_empty() {
        Some("温度記録がありません".to_string())
    } else if let Some(p) = t
        .products
        .iter()
        .find(|p| !p.analysis.excursions.is_empty())
    {
        let e = &p.analysis.excursions[0];
        Some(format!(
            "温度逸脱 {}〜{} 最低{:.1}℃ 最高{:.1}℃",
            jst(e.start),
            jst(e.end),
            e.min,
            e.max
        ))
    } else if let Some(g) = t.products.iter().find_map(|p| p.analysis.gaps.first()) {
        Some(format!("記録の欠落 {}〜{}", jst(g.from), jst(g.to)))
    } else {
        let last = t.readings[t.readings.len() - 1].at;
        (now - last > interval * 2).then(|| format!("{} 以降の記録がありません", jst(last)))
    };
    if let Some(w) = &why {
        quarantine(c, ctx, outbox, d, pharmacy_id, w)?;
    }
    Ok(why)
}

/// The trip of delivery `id` (staff; audited read).
pub fn trip(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<Trip, DeliveryError> {
    crate::authz::require::<DeliveryError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "delivery.temperatures_read",
        Some(("delivery", id)),
    )?;
    let d = load(conn, pharmacy_id, id)?.delivery;
    let t = trip_on(conn, pharmacy_id, &d)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "delivery.temperatures_read").subject("delivery", id),
    )?;
    Ok(t)
}

/// A pharmacist's decision on a quarantined delivery.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct DecisionInput {
    /// use, return or destroy
    pub decision: String,
    pub reason: String,
}

/// Records the decision (pharmacists only: a courier or clerk is refused and
/// the refusal audited). `use` lets the delivery be handed over; `return` and
/// `destroy` send it back to the pharmacy.
pub fn decide_quarantine(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    input: &DecisionInput,
) -> Result<super::DeliveryDetail, DeliveryError> {
    crate::authz::require::<DeliveryError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "delivery.quarantine_decided",
        Some(("delivery", id)),
    )?;
    let decision = QuarantineDecision::parse(&input.decision)
        .ok_or_else(|| invalid("decision", "use, return, destroy のいずれか"))?;
    let reason = crate::domain::text::normalize(&input.reason);
    if reason.is_empty() {
        return Err(invalid("reason", "判断の理由を入力してください"));
    }
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let d = load(c, pharmacy_id, id)?.delivery;
        if d.quarantine != "quarantined" {
            return Err(DeliveryError::WrongState("保留中ではありません".into()));
        }
        let n = diesel::update(
            deliveries::table
                .find((pharmacy_id, id))
                .filter(deliveries::version.eq(d.version)),
        )
        .set((
            deliveries::quarantine.eq(decision.as_str()),
            deliveries::quarantine_reason.eq(Some(format!(
                "{} → {}",
                d.quarantine_reason.clone().unwrap_or_default(),
                reason
            ))),
            deliveries::quarantine_decided_by.eq(Some(&ctx.actor.name)),
            deliveries::quarantine_decided_at.eq(Some(now)),
            deliveries::version.eq(d.version + 1),
            deliveries::updated_at.eq(now),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(DeliveryError::WrongState("同時に更新されました".into()));
        }
        let label = match decision {
            QuarantineDecision::Use => "使用可",
            QuarantineDecision::Return => "返品（薬局へ戻す）",
            QuarantineDecision::Destroy => "廃棄（薬局へ戻す）",
        };
        super::step_named(
            c,
            ctx,
            pharmacy_id,
            id,
            "quarantine_decided",
            "薬局",
            &format!("{label}: {reason}"),
        )?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "delivery.quarantine_decided")
                .subject("delivery", id)
                .detail(format!("{}: {reason}", decision.as_str())),
        )?;
        load(c, pharmacy_id, id)
    })
}
