//! What people see of deliveries: the staff's board per day and state, and the
//! courier's list of their own stops, which carries only what a courier needs
//! (name, address, phone, window, handling notes) and never the contents.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::notify::window_label;
use super::DeliveryError;
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{deliveries, delivery_custody, patients, pharmacies};
use crate::db::DbConnection;
use crate::domain::delivery::rules::State;
use crate::domain::role::{Permission, Role};

/// One line of the delivery board.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardRow {
    pub id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub method: String,
    pub state: String,
    pub state_label: String,
    /// `11月22日 10:00〜12:00`
    pub window: String,
    pub quarantine: String,
    pub needs_logger: bool,
    pub requirements: String,
    pub courier_id: Option<String>,
    /// Delivered, controlled or cold, and the patient has not confirmed receipt.
    pub receipt_pending: bool,
}

type BoardDb = (
    (String, String, String, String, NaiveDateTime, NaiveDateTime),
    (
        String,
        bool,
        String,
        Option<String>,
        bool,
        Option<NaiveDateTime>,
    ),
    String,
);

/// Deliveries whose window starts on `day` (Japan time), optionally in one state;
/// `quarantined` lists every delivery awaiting a pharmacist's decision, whatever
/// its day (staff; audited read).
pub fn board(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    day: NaiveDate,
    state: Option<&str>,
) -> Result<Vec<BoardRow>, DeliveryError> {
    crate::authz::require::<DeliveryError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "delivery.board",
        None,
    )?;
    let from = day.and_hms_opt(0, 0, 0).unwrap_or_default() - Duration::hours(9);
    let to = from + Duration::days(1);
    let mut q = deliveries::table
        .inner_join(
            patients::table.on(patients::pharmacy_id
                .eq(deliveries::pharmacy_id)
                .and(patients::id.eq(deliveries::patient_id))),
        )
        .inner_join(
            delivery_custody::table.on(delivery_custody::pharmacy_id
                .eq(deliveries::pharmacy_id)
                .and(delivery_custody::delivery_id.eq(deliveries::id))),
        )
        .filter(deliveries::pharmacy_id.eq(pharmacy_id))
        .into_boxed();
    match state.filter(|s| !s.is_empty()) {
        // Quarantined deliveries wait for a pharmacist whatever their day.
        Some("quarantined") => q = q.filter(deliveries::quarantine.eq("quarantined")),
        other => {
            q = q
                .filter(deliveries::window_start.ge(from))
                .filter(deliveries::window_start.lt(to));
            if let Some(s) = other {
                q = q.filter(deliveries::state.eq(s.to_string()));
            }
        }
    }
    let rows: Vec<BoardDb> = q
        .order(deliveries::window_start.asc())
        .select((
            (
                deliveries::id,
                deliveries::patient_id,
                deliveries::method,
                deliveries::state,
                deliveries::window_start,
                deliveries::window_end,
            ),
            (
                deliveries::quarantine,
                deliveries::needs_logger,
                deliveries::requirements,
                deliveries::courier_id,
                deliveries::needs_followup,
                delivery_custody::receipt_confirmed_at,
            ),
            patients::name_kanji,
        ))
        .load(conn)?;
    let out: Vec<BoardRow> = rows
        .into_iter()
        .map(
            |(
                (id, patient_id, method, state, ws, we),
                (q, logger, req, courier, follow, confirmed),
                name,
            )| BoardRow {
                receipt_pending: state == "delivered" && follow && confirmed.is_none(),
                state_label: State::parse(&state).map(State::label).unwrap_or("?").into(),
                id,
                patient_id,
                patient_name: name,
                method,
                state,
                window: window_label(ws, we),
                quarantine: q,
                needs_logger: logger,
                requirements: req,
                courier_id: courier,
            },
        )
        .collect();
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "delivery.board").detail(format!("{day}: {} rows", out.len())),
    )?;
    Ok(out)
}

/// One of a courier's stops: what a courier needs, never the contents.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourierStop {
    pub pharmacy_id: String,
    pub pharmacy_name: String,
    pub pharmacy_phone: String,
    pub id: String,
    pub patient_name: String,
    pub address: String,
    pub phone: String,
    pub window: String,
    pub handling_notes: String,
    pub recipient_rules: String,
    pub state: String,
    pub state_label: String,
    /// Held for a pharmacist's decision: do not hand over.
    pub quarantined: bool,
    /// A family member or carer the pharmacy confirmed by phone.
    pub proxy: Option<String>,
    pub logger_serial: Option<String>,
    pub code_locked: bool,
}

type StopDb = (
    (
        String,
        String,
        String,
        String,
        String,
        NaiveDateTime,
        NaiveDateTime,
    ),
    (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    ),
    (String, Option<String>),
    (String, String),
);

fn stops(
    conn: &mut DbConnection,
    ctx: &Ctx,
    only: Option<(&str, &str)>,
) -> QueryResult<Vec<CourierStop>> {
    let me = ctx.actor.user_id.clone().unwrap_or_default();
    let mine: Vec<String> = ctx
        .actor
        .memberships
        .iter()
        .filter(|m| m.role == Role::Courier)
        .map(|m| m.pharmacy_id.clone())
        .collect();
    let mut q = deliveries::table
        .inner_join(
            patients::table.on(patients::pharmacy_id
                .eq(deliveries::pharmacy_id)
                .and(patients::id.eq(deliveries::patient_id))),
        )
        .inner_join(pharmacies::table.on(pharmacies::id.eq(deliveries::pharmacy_id)))
        .inner_join(
            delivery_custody::table.on(delivery_custody::pharmacy_id
                .eq(deliveries::pharmacy_id)
                .and(delivery_custody::delivery_id.eq(deliveries::id))),
        )
        .filter(deliveries::courier_id.eq(&me))
        .filter(deliveries::pharmacy_id.eq_any(&mine))
        .into_boxed();
    match only {
        Some((pid, id)) => {
            q = q
                .filter(deliveries::pharmacy_id.eq(pid.to_string()))
                .filter(deliveries::id.eq(id.to_string()))
        }
        None => {
            q = q.filter(deliveries::state.eq_any([
                "handed_to_courier",
                "out_for_delivery",
                "failed_attempt",
            ]))
        }
    }
    let rows: Vec<StopDb> = q
        .order(deliveries::window_start.asc())
        .select((
            (
                deliveries::pharmacy_id,
                deliveries::id,
                deliveries::destination,
                deliveries::handling_notes,
                deliveries::recipient_rules,
                deliveries::window_start,
                deliveries::window_end,
            ),
            (
                deliveries::state,
                deliveries::quarantine,
                deliveries::method,
                delivery_custody::proxy_name,
                delivery_custody::proxy_relation,
                deliveries::logger_serial,
                delivery_custody::code_locked,
            ),
            (patients::name_kanji, patients::phone),
            (pharmacies::name, pharmacies::phone),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                (pid, id, dest, notes, rules, ws, we),
                (state, q, _m, pn, pr, serial, locked),
                (name, phone),
                (ph_name, ph_phone),
            )| CourierStop {
                pharmacy_id: pid,
                pharmacy_name: ph_name,
                pharmacy_phone: crate::domain::text::format_phone(&ph_phone),
                id,
                patient_name: name,
                address: dest,
                phone: phone
                    .map(|p| crate::domain::text::format_phone(&p))
                    .unwrap_or_default(),
                window: window_label(ws, we),
                handling_notes: notes,
                recipient_rules: rules,
                state_label: State::parse(&state).map(State::label).unwrap_or("?").into(),
                state,
                quarantined: q == "quarantined" || q == "return" || q == "destroy",
                proxy: pn.map(|n| format!("{n}（{}）", pr.unwrap_or_default())),
                logger_serial: serial,
                code_locked: locked,
            },
        )
        .collect())
}

/// The signed-in courier's open stops in every pharmacy they drive for (audited).
pub fn courier_list(conn: &mut DbConnection, ctx: &Ctx) -> Result<Vec<CourierStop>, DeliveryError> {
    let out = stops(conn, ctx, None)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(None, "delivery.courier_list").detail(format!("{} stops", out.len())),
    )?;
    Ok(out)
}

/// One stop of the signed-in courier; another courier's (or another
/// pharmacy's) delivery is not found, and the attempt audited.
pub fn courier_view(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
) -> Result<CourierStop, DeliveryError> {
    let found = stops(conn, ctx, Some((pharmacy_id, id)))?
        .into_iter()
        .next();
    let event = match found {
        Some(_) => Event::ok(Some(pharmacy_id), "delivery.courier_view"),
        None => Event::denied(
            ctx.actor.role_in(pharmacy_id).map(|_| pharmacy_id),
            "delivery.courier_view",
        ),
    };
    audit::record_alone(conn, ctx, event.subject("delivery", id))?;
    found.ok_or(DeliveryError::NotFound)
}

/// Who can carry a delivery: the pharmacy's members, couriers first, as
/// (user id, `name（role）`). Staff only (no patient data).
pub fn carriers(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
) -> Result<Vec<(String, String)>, DeliveryError> {
    use crate::db::schema::{memberships, users};
    ctx.actor.require(pharmacy_id, Permission::ReadPatients)?;
    let rows: Vec<(String, String, String)> = memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::pharmacy_id.eq(pharmacy_id))
        .select((users::id, users::display_name, memberships::role))
        .load(conn)?;
    let mut out: Vec<(bool, String, String)> = rows
        .into_iter()
        .map(|(id, name, role)| {
            let label = Role::parse(&role).map(|r| r.label()).unwrap_or("?");
            (role != "courier", id, format!("{name}（{label}）"))
        })
        .collect();
    out.sort();
    Ok(out.into_iter().map(|(_, id, l)| (id, l)).collect())
}
