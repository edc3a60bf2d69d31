//! `pharmacy bench check-api`: the medication check through the HTTP API with
//! the database (a fresh SQLite file, or the configured PostgreSQL): sign in as a
//! pharmacist, then POST a 10-item check for a patient with a 5-year history.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Duration as Days;
use diesel::prelude::*;

use crate::cli::{migrate, CliResult};
use crate::clock::{Clock, SystemClock};
use crate::config::Validated;
use crate::context::Ctx;
use crate::db::schema::{dispensed_items, users};
use crate::db::{self, write_transaction};
use crate::domain::patient::PatientInput;
use crate::domain::pharmacy::PharmacyInput;
use crate::domain::role::Role;
use crate::web::AppState;

const PASSWORD: &str = "bench-password-2026";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len().saturating_sub(1))].as_secs_f64() * 1000.0
}

/// A fresh pharmacy with the curated drug master, for a benchmark run (a unique
/// code, so runs can share a PostgreSQL database).
pub(crate) fn bench_pharmacy(
    conn: &mut db::DbConnection,
    ctx: &Ctx,
) -> CliResult<crate::pharmacies::Pharmacy> {
    crate::drugs::import::import_curated(conn, ctx).map_err(|e| e.to_string())?;
    let code = format!("134{:07}", ctx.now.timestamp_subsec_micros() % 10_000_000);
    crate::pharmacies::create(
        conn,
        ctx,
        &PharmacyInput {
            code,
            name: "ベンチ薬局".into(),
            postal_code: "1000001".into(),
            address: "東京都千代田区".into(),
            phone: "0300000000".into(),
            email: "bench@example.jp".into(),
            founder: "ベンチ".into(),
        },
    )
    .map_err(|e| e.to_string())
}

/// Serves `state` on a random loopback port in its own thread; returns the base
/// URL and the handle that stops it.
pub(crate) fn serve(state: AppState) -> CliResult<(String, actix_web::dev::ServerHandle)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            if let Ok(server) = crate::web::server::build(state, listener, 2) {
                let _ = tx.send(server.handle());
                let _ = server.await;
            }
        })
    });
    let handle = rx
        .recv()
        .map_err(|_| "the server did not start".to_string())?;
    Ok((base, handle))
}

/// Runs the benchmark and prints its figures.
pub fn check_api(settings: &Validated, history: usize, requests: usize) -> CliResult<()> {
    let dir = std::env::temp_dir().join(format!("pharmacy-bench-api-{}", std::process::id()));
    let mut s = settings.clone();
    if matches!(s.database, db::DatabaseUrl::Sqlite(_)) {
        s.database = db::DatabaseUrl::Sqlite(dir.join("bench.db"));
    }
    s.raw.server.cookie_secure = false;
    let pool = migrate(&s)?;
    let now = SystemClock.now();
    let ctx = Ctx::operator(now);
    let today = ctx.today();
    let (pharmacy_id, patient_id, codes, secret) = {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let ph = bench_pharmacy(&mut conn, &ctx)?;
        let username = format!("bench{}", now.timestamp_subsec_micros());
        let hash = crate::auth::hashing::hash_password(PASSWORD, s.raw.security.pbkdf2_iterations);
        let uid = crate::users::add(
            &mut conn,
            &ctx,
            &ph.id,
            &username,
            "ベンチ",
            Role::Pharmacist,
            &hash,
        )
        .map_err(|e| e.to_string())?;
        let secret = crate::auth::totp::new_secret();
        diesel::update(users::table.find(&uid))
            .set(users::totp_secret.eq(Some(&secret)))
            .execute(&mut conn)
            .map_err(|e| e.to_string())?;
        let patient = crate::patients::create(
            &mut conn,
            &ctx,
            &ph.id,
            &PatientInput {
                name_kanji: "試験 太郎".into(),
                name_kana: "シケン タロウ".into(),
                birth_date: "1950-01-01".into(),
                sex: "male".into(),
                ..PatientInput::default()
            },
        )
        .map_err(|e| e.to_string())?;
        let mut rdr = csv::Reader::from_reader(crate::drugs::import::CURATED_PRODUCTS.as_bytes());
        let codes: Vec<String> = rdr
            .records()
            .filter_map(|r| r.ok())
            .filter(|r| r.get(4) == Some("内用薬"))
            .filter_map(|r| r.get(0).map(str::to_string))
            .collect();
        write_transaction(&mut conn, |c| {
            for i in 0..history {
                let ago = 5 * 365 - (i as i64 * 5 * 365 / history.max(1) as i64);
                let yj = &codes[(i * 7 + 3) % codes.len()];
                diesel::insert_into(dispensed_items::table)
                    .values((
                        dispensed_items::pharmacy_id.eq(&ph.id),
                        dispensed_items::id.eq(uuid::Uuid::now_v7().to_string()),
                        dispensed_items::patient_id.eq(&patient.id),
                        dispensed_items::prescription_id.eq("bench"),
                        dispensed_items::item_id.eq(format!("i{i}")),
                        dispensed_items::drug_code.eq(yj),
                        dispensed_items::drug_name.eq(yj),
                        dispensed_items::yj_code.eq(Some(yj)),
                        dispensed_items::dispensed_on.eq(today - Days::days(ago)),
                        dispensed_items::days.eq(28),
                        dispensed_items::as_needed.eq(false),
                        dispensed_items::created_at.eq(now.naive_utc()),
                    ))
                    .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .map_err(|e| e.to_string())?;
        (ph.id, patient.id, codes, (username, secret))
    };
    let state = AppState::new(pool, s.clone(), Arc::new(SystemClock), false);
    let (base, handle) = serve(state)?;
    let items: Vec<serde_json::Value> = (0..10)
        .map(|i| serde_json::json!({"drug_code": codes[i * 3 % codes.len()], "days": 14}))
        .collect();
    let result = actix_web::rt::System::new().block_on(async move {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish();
        let mut r = client
            .post(format!("{base}/api/v1/session"))
            .send_json(&serde_json::json!({"username": secret.0, "password": PASSWORD}))
            .await
            .map_err(|e| e.to_string())?;
        let cookie = r
            .cookie("pharmacy_session")
            .map(|c| c.value().to_string())
            .ok_or("no session cookie")?;
        let code = crate::auth::totp::code_at(&secret.1, SystemClock.now().timestamp() as u64)
            .map_err(|e| e.to_string())?;
        let mut r = client
            .post(format!("{base}/api/v1/session/second-factor"))
            .insert_header(("Cookie", format!("pharmacy_session={cookie}")))
            .insert_header(("X-CSRF-Token", {
                let body: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
                body["csrf_token"].as_str().unwrap_or_default().to_string()
            }))
            .send_json(&serde_json::json!({"code": code}))
            .await
            .map_err(|e| e.to_string())?;
        let cookie = r
            .cookie("pharmacy_session")
            .map(|c| c.value().to_string())
            .ok_or("no session cookie after the second factor")?;
        let body: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
        let csrf = body["csrf_token"].as_str().unwrap_or_default().to_string();
        let url = format!("{base}/api/v1/pharmacies/{pharmacy_id}/patients/{patient_id}/checks");
        let mut times = Vec::with_capacity(requests);
        let mut findings = 0;
        for _ in 0..requests {
            let t = Instant::now();
            let mut r = client
                .post(&url)
                .insert_header(("Cookie", format!("pharmacy_session={cookie}")))
                .insert_header(("X-CSRF-Token", csrf.clone()))
                .send_json(&serde_json::json!({ "items": items }))
                .await
                .map_err(|e| e.to_string())?;
            let v: serde_json::Value = r.json().limit(1 << 22).await.map_err(|e| e.to_string())?;
            times.push(t.elapsed());
            if r.status() != 200 {
                return Err(format!("check answered {}: {v}", r.status()));
            }
            findings = v["findings"].as_array().map(|a| a.len()).unwrap_or(0);
        }
        times.sort();
        Ok::<_, String>((times, findings))
    });
    let _ =
        std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(true))).join();
    let (times, findings) = result?;
    println!(
        "check through the API on {} (10 items vs {history} history items, {requests} requests, audited): p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({findings} findings); target p99 <= 20 ms on SQLite",
        s.database.backend(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
