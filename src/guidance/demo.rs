//! Demo data for online guidance: the main pharmacy's settings (with a
//! マイナ在宅受付Web URL), the demo pharmacist's hours, a session booked for the next
//! working day with the patient's consents, and the matching viewing consent with
//! drug information on the national-services simulator.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use diesel::prelude::*;

use super::consents::{self, ConsentInput};
use super::{book, set_hours, set_settings, BookingInput, HoursInput, SettingsInput};
use crate::context::Ctx;
use crate::db::schema::{patients, users};
use crate::db::DbConnection;
use crate::domain::guidance::reminders::ReminderPolicy;
use crate::eps::sim_qual::{register_consent, SimConsent, SimDrug};
use crate::notices::OutboxConfig;

/// Seeds guidance for `pharmacy_id` (code `pharmacy_code`); the simulator's side in
/// `terminal`. Returns the session's start (Japan time) for the banner.
pub fn seed(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    pharmacy_code: &str,
    terminal: &std::path::Path,
    today: NaiveDate,
) -> Result<String, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    set_settings(
        conn,
        ctx,
        pharmacy_id,
        &SettingsInput {
            slot_minutes: 15,
            buffer_minutes: 5,
            qualification_url: format!("https://myna-zaitaku.example.jp/pharmacy/{pharmacy_code}"),
        },
    )
    .map_err(|e| err(&e))?;
    let pharmacist: String = users::table
        .filter(users::username.eq("pharmacist"))
        .select(users::id)
        .first(conn)
        .map_err(|e| err(&e))?;
    let mut hours = Vec::new();
    for day in 1..=6 {
        for (start, end) in [("09:00", "12:00"), ("14:00", "17:00")] {
            hours.push(HoursInput {
                weekday: day,
                start: start.into(),
                end: end.into(),
            });
        }
    }
    set_hours(conn, ctx, pharmacy_id, &pharmacist, &hours).map_err(|e| err(&e))?;
    // 佐藤 花子 (e-mail allowed) on the next working day at 10:00.
    let (patient, birth): (String, NaiveDate) = patients::table
        .filter(patients::pharmacy_id.eq(pharmacy_id))
        .filter(patients::insured_number.eq("2002"))
        .select((patients::id, patients::birth_date))
        .first(conn)
        .map_err(|e| err(&e))?;
    let mut day = today + Duration::days(1);
    while day.weekday() == Weekday::Sun {
        day += Duration::days(1);
    }
    let session = book(
        conn,
        ctx,
        outbox,
        &ReminderPolicy::default(),
        pharmacy_id,
        &BookingInput {
            pharmacist_id: pharmacist,
            patient_id: patient.clone(),
            prescription_id: None,
            start: format!("{day}T10:00"),
        },
    )
    .map_err(|e| err(&e))?;
    consents::record(
        conn,
        ctx,
        pharmacy_id,
        &patient,
        &ConsentInput {
            kind: "online_guidance".into(),
            session_id: Some(session.id.clone()),
            text_version: Some(crate::domain::guidance::consent::EXPLANATION_VERSION.into()),
            explanation_shown: true,
            given_at: None,
        },
    )
    .map_err(|e| err(&e))?;
    consents::record(
        conn,
        ctx,
        pharmacy_id,
        &patient,
        &ConsentInput {
            kind: "qualification_viewing".into(),
            session_id: Some(session.id),
            ..ConsentInput::default()
        },
    )
    .map_err(|e| err(&e))?;
    register_consent(
        terminal,
        SimConsent {
            pharmacy_code: pharmacy_code.into(),
            insurer_number: "06130017".into(),
            insured_number: "2002".into(),
            insured_branch: String::new(),
            birth_date: birth,
            name: "佐藤 花子".into(),
            consent_date: today,
            visit_date: day,
            eligible: true,
            drugs: vec![SimDrug {
                code: "2171022F2041".into(),
                name: "アムロジン錠5mg".into(),
                dispensed_on: today - Duration::days(10),
                days: 30,
                institution: "西新宿整形外科".into(),
            }],
        },
    )
    .map_err(|e| err(&e))?;
    Ok(format!("{day} 10:00"))
}
