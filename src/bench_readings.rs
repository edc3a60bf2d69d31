//! `pharmacy bench readings`: temperature-logger ingestion through the HTTP API
//! (a clerk's session, JSON batches to one delivery's logger; a fresh SQLite file
//! or the configured PostgreSQL), and beside it the raw multi-row insert rate of
//! the same table on the same database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use diesel::prelude::*;

use crate::bench_api::bench_pharmacy;
use crate::cli::{migrate, CliResult};
use crate::clock::{Clock, SystemClock};
use crate::config::Validated;
use crate::context::Ctx;
use crate::db::schema::{deliveries, delivery_custody, delivery_items};
use crate::db::{self, write_transaction};
use crate::domain::delivery::coldchain::Reading;
use crate::domain::patient::PatientInput;
use crate::domain::role::Role;
use crate::web::AppState;

const PASSWORD: &str = "bench-password-2026";

/// A delivery out on the road with logger `serial` (made directly: the bench
/// measures ingestion, not the path to the road).
fn bench_delivery(
    c: &mut db::DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
    serial: &str,
) -> QueryResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now.naive_utc();
    write_transaction(c, |c| {
        diesel::insert_into(deliveries::table)
            .values((
                deliveries::pharmacy_id.eq(pharmacy_id),
                deliveries::id.eq(&id),
                deliveries::patient_id.eq(patient_id),
                deliveries::method.eq("courier"),
                deliveries::state.eq("out_for_delivery"),
                deliveries::destination.eq("東京都千代田区"),
                deliveries::recipient_rules.eq("本人のみ"),
                deliveries::handling_notes.eq(""),
                deliveries::window_start.eq(now),
                deliveries::window_end.eq(now + Span::hours(2)),
                deliveries::requirements.eq("温度ロガー同梱"),
                deliveries::needs_logger.eq(true),
                deliveries::version.eq(1),
                deliveries::created_by.eq("bench"),
                deliveries::created_at.eq(now),
                deliveries::updated_at.eq(now),
                deliveries::logger_serial.eq(Some(serial)),
                deliveries::logger_interval_seconds.eq(Some(60)),
            ))
            .execute(c)?;
        diesel::insert_into(delivery_custody::table)
            .values((
                delivery_custody::pharmacy_id.eq(pharmacy_id),
                delivery_custody::delivery_id.eq(&id),
            ))
            .execute(c)?;
        diesel::insert_into(delivery_items::table)
            .values((
                delivery_items::pharmacy_id.eq(pharmacy_id),
                delivery_items::delivery_id.eq(&id),
                delivery_items::dispensed_item_id.eq("bench"),
                delivery_items::prescription_id.eq("bench"),
                delivery_items::product_code.eq("bench"),
                delivery_items::product_name.eq("ベンチ冷所品"),
                delivery_items::quantity.eq("1"),
                delivery_items::label_range.eq(Some("2-8")),
            ))
            .execute(c)?;
        Ok(id.clone())
    })
}

/// Runs the benchmark and prints its figures.
pub fn readings(settings: &Validated, total: usize, batch: usize) -> CliResult<()> {
    let dir = std::env::temp_dir().join(format!("pharmacy-bench-readings-{}", std::process::id()));
    let mut s = settings.clone();
    if matches!(s.database, db::DatabaseUrl::Sqlite(_)) {
        s.database = db::DatabaseUrl::Sqlite(dir.join("bench.db"));
    }
    s.raw.server.cookie_secure = false;
    let pool = migrate(&s)?;
    let now = SystemClock.now();
    let ctx = Ctx::operator(now);
    let tag = now.timestamp_subsec_micros();
    let (pharmacy_id, api_delivery, raw_delivery, username) = {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let ph = bench_pharmacy(&mut conn, &ctx)?;
        let username = format!("benchclerk{tag}");
        let hash = crate::auth::hashing::hash_password(PASSWORD, s.raw.security.pbkdf2_iterations);
        crate::users::add(
            &mut conn,
            &ctx,
            &ph.id,
            &username,
            "ベンチ",
            Role::Clerk,
            &hash,
        )
        .map_err(|e| e.to_string())?;
        let patient = crate::patients::create(
            &mut conn,
            &ctx,
            &ph.id,
            &PatientInput {
                name_kanji: "試験 花子".into(),
                name_kana: "シケン ハナコ".into(),
                birth_date: "1950-01-01".into(),
                sex: "female".into(),
                ..PatientInput::default()
            },
        )
        .map_err(|e| e.to_string())?;
        let api = bench_delivery(&mut conn, &ctx, &ph.id, &patient.id, &format!("API-{tag}"))
            .map_err(|e| e.to_string())?;
        let raw = bench_delivery(&mut conn, &ctx, &ph.id, &patient.id, &format!("RAW-{tag}"))
            .map_err(|e| e.to_string())?;
        (ph.id, api, raw, username)
    };
    // Readings one minute apart, all inside 2-8 °C, ending now.
    let start = now.naive_utc() - Span::minutes(total as i64);
    let series: Vec<Reading> = (0..total)
        .map(|i| Reading {
            at: start + Span::minutes(i as i64),
            celsius: 4.0 + (i % 30) as f64 / 10.0,
        })
        .collect();
    let bodies: Vec<String> = series
        .chunks(batch)
        .map(|chunk| {
            let readings: Vec<serde_json::Value> = chunk
                .iter()
                .map(|r| {
                    serde_json::json!({"at": format!("{}Z", r.at.format("%FT%T")), "celsius": r.celsius})
                })
                .collect();
            serde_json::json!({"logger_serial": format!("API-{tag}"), "readings": readings}).to_string()
        })
        .collect();

    let state = AppState::new(pool.clone(), s.clone(), Arc::new(SystemClock), false);
    let (base, handle) = crate::bench_api::serve(state)?;
    let url = format!("{base}/api/v1/pharmacies/{pharmacy_id}/deliveries/{api_delivery}/readings");
    let result = actix_web::rt::System::new().block_on(async move {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let mut r = client
            .post(format!("{base}/api/v1/session"))
            .send_json(&serde_json::json!({"username": username, "password": PASSWORD}))
            .await
            .map_err(|e| e.to_string())?;
        let cookie = r
            .cookie("pharmacy_session")
            .map(|c| c.value().to_string())
            .ok_or("no session cookie")?;
        let body: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
        let csrf = body["csrf_token"].as_str().unwrap_or_default().to_string();
        let t = Instant::now();
        let mut accepted = 0u64;
        for b in bodies {
            let mut r = client
                .post(&url)
                .insert_header(("Cookie", format!("pharmacy_session={cookie}")))
                .insert_header(("X-CSRF-Token", csrf.clone()))
                .insert_header(("Content-Type", "application/json"))
                .send_body(b)
                .await
                .map_err(|e| e.to_string())?;
            let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
            if r.status() != 200 || v["quarantine"] != "none" {
                return Err(format!("readings answered {}: {v}", r.status()));
            }
            accepted += v["accepted"].as_u64().unwrap_or(0);
        }
        Ok::<_, String>((t.elapsed(), accepted))
    });
    let _ =
        std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(true))).join();
    let (api_time, accepted) = result?;
    if accepted as usize != total {
        return Err(format!("{accepted} of {total} readings stored"));
    }

    // The same rows straight into the table, same batch size, one transaction each.
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let t = Instant::now();
    for chunk in series.chunks(batch) {
        write_transaction(&mut conn, |c| {
            crate::deliveries::store_readings(
                c,
                &pharmacy_id,
                &format!("RAW-{tag}"),
                &raw_delivery,
                chunk,
            )
        })
        .map_err(|e| e.to_string())?;
    }
    let raw_time = t.elapsed();
    let rate = |d: Duration| total as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "temperature readings through the API on {} ({total} readings, batches of {batch}, analysed and audited per batch): {:.0} readings/s ({:.2} s); target >= 50,000 readings/s on SQLite",
        s.database.backend(),
        rate(api_time),
        api_time.as_secs_f64()
    );
    println!(
        "raw insert of the same readings into the same database: {:.0} rows/s ({:.2} s); the API reaches {:.0}% of it",
        rate(raw_time),
        raw_time.as_secs_f64(),
        100.0 * raw_time.as_secs_f64() / api_time.as_secs_f64().max(1e-9)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
