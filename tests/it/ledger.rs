//! The controlled-drug ledger through the real app: dispensing a narcotic writes
//! its entry in the same transaction (racing dispensings keep the balance exact),
//! exports, and `pharmacy ledger verify` as a real process finding tampering done
//! by direct SQL after the guard is dropped.

use std::process::Command;

use chrono::Duration;
use diesel::prelude::*;
use pharmacy::clock::Clock;
use pharmacy::domain::role::Role;
use serde_json::{json, Value};

use crate::common::{backend, TestApp, TestClient};

const OXYCONTIN: &str = "8119002G5020";

async fn pharmacist(app: &TestApp, pid: &str, name: &str) -> (String, String) {
    let id = app.user(pid, name, Role::Pharmacist);
    let secret = app.enable_totp(&id);
    (id, secret)
}

async fn receive(c: &TestClient, pid: &str, quantity: i64) -> Value {
    let r = c
        .post_json(
            &format!("/api/v1/pharmacies/{pid}/ledger/entries"),
            json!({"product": OXYCONTIN, "kind": "received", "quantity": quantity, "unit": "錠",
                   "lot": "LOT-A", "reference": "卸伝票 0001"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn stock_balance(app: &TestApp, pid: &str) -> i64 {
    use pharmacy::db::schema::controlled_stock as s;
    s::table
        .find((pid, OXYCONTIN))
        .select(s::balance)
        .first(&mut app.conn())
        .unwrap()
}

#[actix_web::test]
async fn concurrent_narcotic_dispensings_keep_the_balance_exact() {
    let app = TestApp::spawn().await;
    pharmacy::drugs::import::import_curated(&mut app.conn(), &app.operator()).unwrap();
    let pid = app.pharmacy("1341234567", "さくら薬局");
    let (_, secret) = pharmacist(&app, &pid, "pharm1").await;
    let first = app.signed_in("pharm1", Some(&secret)).await;
    receive(&first, &pid, 50).await;
    // Eight prescriptions of ten tablets each, for eight patients.
    let mut rxs = Vec::new();
    for i in 0..8 {
        let patient = app.patient(&pid, &format!("患者 {i}"), "カンジャ");
        let r = first
            .post_json(
                &format!("/api/v1/pharmacies/{pid}/prescriptions"),
                json!({"patient_id": patient, "institution_name": "新宿内科クリニック",
                       "prescriber_name": "医師 一郎", "issue_date": "2026-11-20",
                       "items": [{"rp": 1, "drug_code": OXYCONTIN, "dose": "2錠", "usage": "1日2回", "days": 5}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let rx = r.json();
        rxs.push((
            rx["id"].as_str().unwrap().to_string(),
            rx["items"][0]["id"].as_str().unwrap().to_string(),
        ));
    }
    // Without a counted quantity a narcotic is not dispensed.
    let (rx0, item0) = &rxs[0];
    let r = first
        .post_json(
            &format!("/api/v1/pharmacies/{pid}/prescriptions/{rx0}/dispense"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let _ = item0;
    // Eight pharmacists' browsers dispense at once (a TOTP code serves one sign-in).
    let mut clients = Vec::new();
    for _ in 0..8 {
        app.advance(Duration::seconds(31));
        clients.push(app.signed_in("pharm1", Some(&secret)).await);
    }
    let paths: Vec<String> = rxs
        .iter()
        .map(|(rx, _)| format!("/api/v1/pharmacies/{pid}/prescriptions/{rx}/dispense"))
        .collect();
    let calls = clients
        .iter()
        .zip(&rxs)
        .zip(&paths)
        .map(|((c, (_, item)), path)| {
            c.post_json(
                path,
                json!({"items": [{"item_id": item, "quantity": "10錠", "lot_number": "LOT-A"}]}),
            )
        });
    let results = futures_util::future::join_all(calls).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(stock_balance(&app, &pid), 0);
    let c = &clients[0];
    let entries = c
        .get(&format!(
            "/api/v1/pharmacies/{pid}/ledger/{OXYCONTIN}/entries"
        ))
        .await
        .json();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 6);
    let balances: Vec<i64> = entries
        .iter()
        .map(|e| e["balance_after"].as_i64().unwrap())
        .collect();
    assert_eq!(balances, [50, 40, 30, 20, 10, 0]);
    assert!(entries[1..]
        .iter()
        .all(|e| e["kind"] == "dispensed" && e["lot"] == "LOT-A"));
    // The refused prescriptions were not dispensed, and the refusals are audited.
    let refused = app.audit("prescription.dispensed");
    assert_eq!(refused.iter().filter(|a| a.outcome == "denied").count(), 3);
    let page = c.get(&format!("/p/{pid}/ledger?product={OXYCONTIN}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("オキシコンチン") && page.text().contains("LOT-A"));
    let reports = pharmacy::ledger::verify::verify_chains(&mut app.conn(), None).unwrap();
    assert!(reports.iter().all(|r| r.broken.is_none()), "{reports:?}");
    // Receipts, disposals and accidents need what the ledger asks for.
    for (body, status) in [
        (
            json!({"product": OXYCONTIN, "kind": "disposed", "quantity": 1, "unit": "錠"}),
            422,
        ),
        (
            json!({"product": OXYCONTIN, "kind": "dispensed", "quantity": 1, "unit": "錠"}),
            422,
        ),
        (
            json!({"product": "2171022F2041", "kind": "received", "quantity": 1, "unit": "錠"}),
            422,
        ),
        (
            json!({"product": OXYCONTIN, "kind": "accident", "quantity": 1, "unit": "錠", "reference": "新宿署 1"}),
            409,
        ),
    ] {
        let r = c
            .post_json(
                &format!("/api/v1/pharmacies/{pid}/ledger/entries"),
                body.clone(),
            )
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
}

fn verify(app: &TestApp, pharmacy: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pharmacy"))
        .args(["ledger", "verify", "--pharmacy", pharmacy])
        .env("PHARMACY__LOG__FILTER", "warn")
        .env("PHARMACY__DATABASE__URL", &app.db.url)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[actix_web::test]
async fn tampering_is_found_at_the_entry_and_exports_follow_the_ledger() {
    let app = TestApp::spawn().await;
    pharmacy::drugs::import::import_curated(&mut app.conn(), &app.operator()).unwrap();
    let codes = ["1341234567", "1341234575", "1341234583"];
    let mut pids = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let pid = app.pharmacy(code, &format!("さくら薬局 {i}"));
        let (_, secret) = pharmacist(&app, &pid, &format!("pharm{i}")).await;
        let c = app.signed_in(&format!("pharm{i}"), Some(&secret)).await;
        receive(&c, &pid, 100).await;
        for body in [
            json!({"product": OXYCONTIN, "kind": "disposed", "quantity": 5, "unit": "錠", "witness": "保健所 薬事監視員"}),
            json!({"product": OXYCONTIN, "kind": "accident", "quantity": 2, "unit": "錠", "reference": "新宿警察署 受理番号 123", "note": "配送中の盗難"}),
            json!({"product": OXYCONTIN, "kind": "returned", "quantity": 1, "unit": "錠", "reference": "配送不成立"}),
        ] {
            let r = c
                .post_json(&format!("/api/v1/pharmacies/{pid}/ledger/entries"), body)
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
        }
        if i == 0 {
            // Exports: the 麻薬帳簿, the annual report, the accident report draft.
            let today = pharmacy::context::jst(app.clock.now().naive_utc()).date_naive();
            let book = c
                .get(&format!(
                    "/api/v1/pharmacies/{pid}/ledger/{OXYCONTIN}/book.csv?from={today}&to={today}"
                ))
                .await;
            assert_eq!(book.status, 200);
            let text = book.text();
            assert_eq!(text.lines().count(), 5, "{text}");
            assert!(
                text.contains("譲受") && text.contains("保健所 薬事監視員"),
                "{text}"
            );
            let year = if today.format("%m").to_string().as_str() >= "10" {
                today.format("%Y").to_string().parse::<i32>().unwrap() + 1
            } else {
                today.format("%Y").to_string().parse::<i32>().unwrap()
            };
            let annual = c
                .get(&format!(
                    "/api/v1/pharmacies/{pid}/ledger/annual.csv?year={year}"
                ))
                .await
                .text();
            assert!(
                annual.contains("オキシコンチンTR錠5mg,8119002G5020,錠,0,100,0,1,5,2,94"),
                "{annual}"
            );
            let report = c
                .get(&format!(
                    "/api/v1/pharmacies/{pid}/ledger/{OXYCONTIN}/entries/3/accident-report"
                ))
                .await;
            assert_eq!(report.status, 200);
            assert!(report.text().contains("新宿警察署") && report.text().contains("2錠"));
            let r = c
                .get(&format!(
                    "/api/v1/pharmacies/{pid}/ledger/{OXYCONTIN}/entries/2/accident-report"
                ))
                .await;
            assert_eq!(r.status, 422, "not an accident entry");
        }
        pids.push(pid);
    }
    for code in codes {
        let (ok, out) = verify(&app, code);
        assert!(ok, "{out}");
    }
    // The guard refuses edits; drop it, then tamper by direct SQL.
    let mut conn = app.conn();
    let edit = format!(
        "UPDATE controlled_ledger SET quantity = 6 WHERE pharmacy_id = '{}' AND seq = 2",
        pids[0]
    );
    assert!(diesel::sql_query(&edit).execute(&mut conn).is_err());
    let drops: &[&str] = if backend() == "postgres" {
        &[
            "DROP TRIGGER controlled_ledger_no_update ON controlled_ledger",
            "DROP TRIGGER controlled_ledger_no_delete ON controlled_ledger",
        ]
    } else {
        &[
            "DROP TRIGGER controlled_ledger_no_update",
            "DROP TRIGGER controlled_ledger_no_delete",
        ]
    };
    for d in drops {
        diesel::sql_query(*d).execute(&mut conn).unwrap();
    }
    // Altered: entry 2 of the first pharmacy.
    diesel::sql_query(&edit).execute(&mut conn).unwrap();
    // Deleted: entry 3 of the second.
    diesel::sql_query(format!(
        "DELETE FROM controlled_ledger WHERE pharmacy_id = '{}' AND seq = 3",
        pids[1]
    ))
    .execute(&mut conn)
    .unwrap();
    // Inserted: an entry 5 of the third, after its head.
    diesel::sql_query(format!(
        "INSERT INTO controlled_ledger (pharmacy_id, product, seq, id, kind, quantity, unit, lot, \
         balance_after, actor, witness, reference, note, occurred_at, prev_hash, hash) VALUES \
         ('{}', '{OXYCONTIN}', 5, 'forged', 'received', 10, '錠', '', 104, 'x', '', '', '', \
         '2026-11-21 10:00:00', 'x', 'y')",
        pids[2]
    ))
    .execute(&mut conn)
    .unwrap();
    let (ok, out) = verify(&app, codes[0]);
    assert!(
        !ok && out.contains("#2") && out.contains("altered"),
        "{out}"
    );
    let (ok, out) = verify(&app, codes[1]);
    assert!(!ok && out.contains("#3"), "{out}");
    let (ok, out) = verify(&app, codes[2]);
    assert!(!ok && out.contains("#5"), "{out}");
}
