//! Demo data for home delivery: 山田 太郎's dispensed prescription gets its online
//! guidance held and completed, then a delivery by the contracted courier that is
//! sealed and handed to the demo courier (the shipped notice with the handover code
//! is in the demo's mail folder), so the courier page has a stop.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use diesel::prelude::*;

use super::{advance, create, DeliveryInput, StepInput};
use crate::context::Ctx;
use crate::db::schema::{patients, prescriptions, users};
use crate::db::DbConnection;
use crate::guidance::{self, conduct, consents};
use crate::notices::OutboxConfig;

/// Seeds one delivery on the road for `pharmacy_id`; returns its id.
pub fn seed(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    today: NaiveDate,
) -> Result<String, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let user = |c: &mut DbConnection, name: &str| {
        users::table
            .filter(users::username.eq(name))
            .select(users::id)
            .first::<String>(c)
            .map_err(|e| err(&e))
    };
    let (pharmacist, courier) = (user(conn, "pharmacist")?, user(conn, "courier")?);
    let patient: String = patients::table
        .filter(patients::pharmacy_id.eq(pharmacy_id))
        .filter(patients::insured_number.eq("1001"))
        .select(patients::id)
        .first(conn)
        .map_err(|e| err(&e))?;
    let rx: String = prescriptions::table
        .filter(prescriptions::pharmacy_id.eq(pharmacy_id))
        .filter(prescriptions::patient_id.eq(&patient))
        .filter(prescriptions::status.eq("dispensed"))
        .select(prescriptions::id)
        .first(conn)
        .map_err(|e| err(&e))?;
    consents::record(
        conn,
        ctx,
        pharmacy_id,
        &patient,
        &consents::ConsentInput {
            kind: "online_guidance".into(),
            text_version: Some(crate::domain::guidance::consent::EXPLANATION_VERSION.into()),
            explanation_shown: true,
            ..consents::ConsentInput::default()
        },
    )
    .map_err(|e| err(&e))?;
    let mut day = today + Duration::days(1);
    while day.weekday() == Weekday::Sun {
        day += Duration::days(1);
    }
    let session = guidance::book(
        conn,
        ctx,
        outbox,
        &Default::default(),
        pharmacy_id,
        &guidance::BookingInput {
            pharmacist_id: pharmacist,
            patient_id: patient.clone(),
            prescription_id: Some(rx.clone()),
            start: format!("{day}T14:00"),
        },
    )
    .map_err(|e| err(&e))?;
    if session.needs_review() {
        conduct::review(
            conn,
            ctx,
            pharmacy_id,
            &session.id,
            "初回: 処方内容と併用薬を確認",
        )
        .map_err(|e| err(&e))?;
    }
    conduct::start(
        conn,
        ctx,
        pharmacy_id,
        &session.id,
        &conduct::StartInput {
            identity_check: "mynumber_card".into(),
            meeting_url: "https://meet.example.jp/demo".into(),
            ..conduct::StartInput::default()
        },
    )
    .map_err(|e| err(&e))?;
    conduct::finish(
        conn,
        ctx,
        pharmacy_id,
        &session.id,
        &conduct::FinishInput {
            outcome: "completed".into(),
            ..conduct::FinishInput::default()
        },
    )
    .map_err(|e| err(&e))?;
    let d = create(
        conn,
        ctx,
        pharmacy_id,
        &DeliveryInput {
            prescription_ids: vec![rx],
            method: "courier".into(),
            destination: None,
            recipient_rules: "家族可".into(),
            handling_notes: "インターホンは鳴らさずノック".into(),
            window_start: format!("{day}T16:00"),
            window_end: format!("{day}T18:00"),
            confirm_method: false,
        },
    )
    .map_err(|e| err(&e))?;
    let id = d.delivery.id;
    for step in [
        StepInput {
            state: "sealed".into(),
            place: "薬局".into(),
            seal_number: Some("S-0001".into()),
            ..StepInput::default()
        },
        StepInput {
            state: "handed_to_courier".into(),
            place: "薬局".into(),
            courier_id: Some(courier.clone()),
            ..StepInput::default()
        },
    ] {
        advance(conn, ctx, outbox, pharmacy_id, &id, &step).map_err(|e| err(&e))?;
    }
    Ok(id)
}
