//! E-prescriptions end to end: the real app over HTTP, the simulator as a real
//! process on a temporary terminal folder, the job worker registering results.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use pharmacy::domain::role::Role;
use serde_json::{json, Value};

use crate::common::{Options, TestApp, TestClient};

const NORVASC: &str = "2171022F2025";
const AMLODIN: &str = "2171022F2041";

/// A prescription payload (JAHIS-style CSV) issued on `issue_date` (YYYYMMDD).
fn payload(issue_date: &str, code: &str, name: &str) -> String {
    format!(
        "JAHIS10\r\n1,1,1312345678,13,新宿内科クリニック\r\n5,,ナイカ イチロウ,内科 一郎\r\n\
         11,P0001,山田 花子,ヤマダ ハナコ\r\n12,2\r\n13,19580412\r\n21,1\r\n22,01130012\r\n\
         23,12,1001,1,01\r\n51,{issue_date}\r\n101,1,1,内服,14\r\n\
         111,1,1,1013044400000000,1日1回朝食後,1\r\n201,1,1,1,4,{code},{name},1,1,錠\r\n"
    )
}

fn today_payload() -> String {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y%m%d")
        .to_string();
    payload(&today, NORVASC, "ノルバスク錠5mg")
}

struct Sim {
    dir: PathBuf,
    latency_ms: u64,
    child: Option<Child>,
}

impl Sim {
    fn new(dir: &Path) -> Sim {
        Sim {
            dir: dir.to_path_buf(),
            latency_ms: 0,
            child: None,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pharmacy"));
        c.args(["eps-sim", "--poll-ms", "5", "--latency-ms"])
            .arg(self.latency_ms.to_string())
            .arg("--dir")
            .arg(&self.dir);
        c
    }

    fn start(&mut self) {
        let child = self
            .cmd()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Issues `csv` for the insurance 01130012 / 1001 / 01; returns the 引換番号.
    fn issue(&self, csv: &str, extra: &[&str]) -> String {
        let file = self
            .dir
            .with_extension(format!("{}.csv", uuid::Uuid::new_v4()));
        std::fs::write(&file, csv).unwrap();
        let f = file.to_string_lossy().to_string();
        let mut args = vec![
            "issue",
            "--insurer",
            "01130012",
            "--number",
            "1001",
            "--branch",
            "01",
            "--csv",
            &f,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn status(&self, code: &str) -> String {
        self.run(&["status", "--code", code])
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Setup {
    app: TestApp,
    pharmacy: String,
    client: TestClient,
    sim: Sim,
    _tmp: tempfile::TempDir,
}

async fn setup_with(latency_ms: u64) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let term = tmp.path().join("terminal");
    let app = TestApp::spawn_with(Options {
        env: vec![
            (
                "PHARMACY__EPS__REQUEST_DIR",
                term.join("req").display().to_string(),
            ),
            (
                "PHARMACY__EPS__RESPONSE_DIR",
                term.join("res").display().to_string(),
            ),
            (
                "PHARMACY__EPS__QUARANTINE_DIR",
                tmp.path().join("bad").display().to_string(),
            ),
            ("PHARMACY__EPS__TIMEOUT_SECS", "2".into()),
            ("PHARMACY__EPS__POLL_INTERVAL_MS", "5".into()),
            ("PHARMACY__EPS__PROCESSING_RETRY_MS", "20".into()),
        ],
        ..Options::default()
    })
    .await;
    pharmacy::drugs::import::import_curated(&mut app.conn(), &app.operator()).unwrap();
    let pharmacy = app.pharmacy("1341234567", "さくら薬局");
    let pharm = app.user(&pharmacy, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&pharm);
    let client = app.signed_in("pharm1", Some(&secret)).await;
    let mut sim = Sim::new(&term);
    sim.latency_ms = latency_ms;
    std::fs::create_dir_all(&term).unwrap();
    Setup {
        app,
        pharmacy,
        client,
        sim,
        _tmp: tmp,
    }
}

async fn setup() -> Setup {
    setup_with(0).await
}

fn accept_body(code: &str) -> Value {
    json!({"access_code": code, "insurer_number": "01130012", "insured_symbol": "12",
           "insured_number": "1001", "insured_branch": "01"})
}

fn count(app: &TestApp, table: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<N>(&mut app.conn())
        .unwrap()
        .n
}

#[actix_web::test]
async fn accept_check_resolve_dispense_register() {
    let mut s = setup().await;
    let code = s.sim.issue(
        &today_payload(),
        &[
            "--check",
            "W01:重複投薬の可能性があります:ガスター錠10mg",
            "--consent",
        ],
    );
    s.sim.start();
    let base = format!("/api/v1/pharmacies/{}", s.pharmacy);
    let r = s
        .client
        .post_json(&format!("{base}/eps/accept"), accept_body(&code))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let p = r.json();
    let id = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["source"], "eps");
    assert_eq!(p["stage"], "checked");
    assert_eq!(p["eps"]["signature_ok"], true);
    assert_eq!(p["eps"]["eps_status"], "調剤中");
    assert_eq!(p["items"][0]["drug_name"], "ノルバスク錠5mg");
    let eps_finding = p["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "eps_check")
        .expect("the service's check result is a finding")
        .clone();
    assert!(eps_finding["message"]
        .as_str()
        .unwrap()
        .contains("ガスター錠10mg"));
    // Quick registration from the payload's patient records.
    assert_eq!(s.app.audit("patient.created").len(), 1);

    let r = s
        .client
        .post_json(&format!("{base}/prescriptions/{id}/dispense"), json!({}))
        .await;
    assert_eq!(r.status, 409, "open findings block dispensing");
    // Editing the items re-runs the local check; the service's result stays open.
    let r = s
        .client
        .put_json(
            &format!("{base}/prescriptions/{id}/items"),
            json!({"version": p["version"], "items": [{"rp": 1, "drug_code": NORVASC, "dose": "1錠",
                   "usage": "1日1回朝食後", "days": 14}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert!(p["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "eps_check" && f["status"] == "open"));
    for f in p["findings"].as_array().unwrap() {
        let r = s
            .client
            .post_json(
                &format!(
                    "{base}/prescriptions/{id}/findings/{}/resolve",
                    f["id"].as_str().unwrap()
                ),
                json!({"action": "acknowledge", "reason": "他院処方は終了済み（患者に確認）"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let item = p["items"][0]["id"].as_str().unwrap().to_string();
    let r = s
        .client
        .post_json(
            &format!("{base}/prescriptions/{id}/dispense"),
            json!({"items": [{"item_id": item, "drug_code": AMLODIN, "quantity": "14錠",
                              "lot_number": "LOT-77", "lot_expiry": "2030-03-31"}],
                   "message_to_prescriber": "アムロジン錠5mgに変更しました"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = r.json();
    assert_eq!(d["stage"], "result_pending");
    assert_eq!(d["dispensed"][0]["substituted"], true);
    assert_eq!(d["dispensed"][0]["prescribed_code"], NORVASC);
    assert_eq!(d["dispensed"][0]["lot_number"], "LOT-77");

    let pending = s
        .client
        .get(&format!("{base}/eps/pending-results"))
        .await
        .json();
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(s.app.worker().run_until_idle().unwrap(), 1);
    assert!(s.sim.status(&code).contains("調剤済 result=yes"));

    let done = s
        .client
        .get(&format!("{base}/prescriptions/{id}"))
        .await
        .json();
    assert_eq!(done["stage"], "complete");
    assert_eq!(done["eps"]["state"], "registered");
    let actions: Vec<&str> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["action"].as_str().unwrap())
        .collect();
    for a in [
        "prescription.received",
        "eps.accepted",
        "prescription.checked",
        "prescription.dispensed",
        "eps.result_queued",
        "eps.result_registered",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let pending = s
        .client
        .get(&format!("{base}/eps/pending-results"))
        .await
        .json();
    assert!(pending.as_array().unwrap().is_empty());
    // A dispensing error found afterwards: the result is cancelled and registered anew.
    let url = format!("{base}/prescriptions/{id}/eps/cancel-result");
    assert_eq!(s.client.post_json(&url, json!({})).await.status, 422);
    let r = s
        .client
        .post_json(&url, json!({"reason": "ロット番号の記録誤り"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["stage"], "resolved");
    assert!(r.json()["dispensed"].as_array().unwrap().is_empty());
    assert!(s.sim.status(&code).contains("調剤中 result=no"));
    let r = s
        .client
        .post_json(
            &format!("{base}/prescriptions/{id}/dispense"),
            json!({"items": [{"item_id": item, "lot_number": "LOT-78", "lot_expiry": "2030-03-31"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.app.worker().run_until_idle().unwrap(), 1);
    assert!(s.sim.status(&code).contains("調剤済 result=yes"));
    // The code is spent: the service says so.
    let again = s
        .client
        .post_json(&format!("{base}/eps/accept"), accept_body(&code))
        .await;
    assert_eq!(again.status, 422);
    assert!(again.text().contains("調剤済み"), "{}", again.text());
}

#[actix_web::test]
async fn every_refusal_is_specific_and_changes_nothing() {
    let mut s = setup().await;
    let ok = s.sim.issue(&today_payload(), &[]);
    let cancelled = s.sim.issue(&today_payload(), &[]);
    s.sim.run(&["cancel", "--code", &cancelled]);
    let expired = s
        .sim
        .issue(&payload("20200101", NORVASC, "ノルバスク錠5mg"), &[]);
    let elsewhere = s.sim.issue(&today_payload(), &[]);
    s.sim.start();
    // Another pharmacy accepts one through its own terminal connection.
    let other = pharmacy::eps::gateway::Gateway::new(pharmacy::eps::gateway::GatewayConfig {
        request_dir: s.sim.dir.join("req"),
        response_dir: s.sim.dir.join("res"),
        quarantine_dir: s.sim.dir.join("other-bad"),
        timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(5),
        processing_retry: Duration::from_millis(20),
        max_processing: 5,
    })
    .unwrap();
    let taken = other
        .call(&pharmacy::domain::eps::messages::Request {
            operation: pharmacy::domain::eps::messages::Operation::Accept,
            institution_code: "1349999999".into(),
            file_id: "other1".into(),
            body: vec![
                ("AccessCode".into(), elsewhere.clone()),
                ("InsurerNumber".into(), "01130012".into()),
                ("InsuredNumber".into(), "1001".into()),
                ("InsuredBranch".into(), "01".into()),
                ("PharmacyName".into(), "みどり薬局".into()),
            ],
        })
        .unwrap();
    assert_eq!(taken.error(), None);

    let url = format!("/api/v1/pharmacies/{}/eps/accept", s.pharmacy);
    let mut wrong_number = accept_body(&ok);
    wrong_number["insured_number"] = json!("9999");
    let cases = [
        (accept_body("000000"), "該当する処方箋がありません"),
        (wrong_number, "一致しません"),
        (
            accept_body(&elsewhere),
            "他の薬局で受付済みです（みどり薬局）",
        ),
        (accept_body(&cancelled), "医療機関により取り消されています"),
        (accept_body(&expired), "使用期限を過ぎています"),
    ];
    for (body, message) in cases {
        let r = s.client.post_json(&url, body).await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert!(r.text().contains(message), "{message}: {}", r.text());
    }
    let invalid = s
        .client
        .post_json(&url, json!({"access_code": "12a"}))
        .await;
    assert_eq!(invalid.status, 422);
    assert!(invalid.text().contains("insurer_number"));
    assert_eq!(count(&s.app, "prescriptions"), 0);
    assert_eq!(count(&s.app, "eps_claims"), 0);
    assert_eq!(count(&s.app, "patients"), 0);
    let failures = s.app.audit("eps.accepted");
    assert_eq!(failures.len(), 5);
    assert!(failures.iter().all(|f| f.outcome == "failed"));

    // A malformed request file gets the service's malformed-request answer.
    std::fs::write(s.sim.dir.join("req/junk1_req.xml"), b"<XmlMsg><oops").unwrap();
    let res = s.sim.dir.join("res/junk1_res.xml");
    let mut answer = None;
    for _ in 0..400 {
        if let Ok(b) = std::fs::read(&res) {
            answer = Some(b);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = pharmacy::domain::eps::messages::Response::parse(&answer.expect("answered")).unwrap();
    assert_eq!(r.error_code.as_deref(), Some("EPS-E006"));

    // "Processing" is asked again until the answer comes.
    let slow = s.sim.issue(&today_payload(), &["--processing", "2"]);
    let r = s.client.post_json(&url, accept_body(&slow)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    // Cancelling the acceptance hands it back; rejecting needs a reason.
    let base = format!("/api/v1/pharmacies/{}/prescriptions/{id}", s.pharmacy);
    let r = s
        .client
        .post_json(
            &format!("{base}/eps/cancel-acceptance"),
            json!({"reject": true}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = s
        .client
        .post_json(
            &format!("{base}/eps/cancel-acceptance"),
            json!({"reject": true, "reason": "処方医と協議し調剤しないこととした"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["stage"], "rejected");
    assert!(s.sim.status(&slow).contains("未受付"));

    // A signature that does not verify blocks dispensing, with the reason shown.
    let ng = s.sim.issue(&today_payload(), &["--signature-ng"]);
    let r = s.client.post_json(&url, accept_body(&ng)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let p = r.json();
    let id = p["id"].as_str().unwrap();
    let blockers = p["blockers"].as_array().unwrap();
    assert!(blockers[0].as_str().unwrap().contains("電子署名"));
    let r = s
        .client
        .post_json(
            &format!(
                "/api/v1/pharmacies/{}/prescriptions/{id}/dispense",
                s.pharmacy
            ),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(r.text().contains("電子署名"), "{}", r.text());
}

#[actix_web::test]
async fn two_staff_accepting_one_code_at_once_exactly_one_wins() {
    let mut s = setup_with(400).await;
    let code = s.sim.issue(&today_payload(), &[]);
    s.sim.start();
    let pharm2 = s.app.user(&s.pharmacy, "pharm2", Role::Pharmacist);
    let secret2 = s.app.enable_totp(&pharm2);
    let c2 = s.app.signed_in("pharm2", Some(&secret2)).await;
    let url = format!("/api/v1/pharmacies/{}/eps/accept", s.pharmacy);
    let (a, b) = tokio::join!(
        s.client.post_json(&url, accept_body(&code)),
        c2.post_json(&url, accept_body(&code))
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", a.text(), b.text());
    let loser = if a.status == 409 { &a } else { &b };
    assert!(
        loser.text().contains("pharm1") || loser.text().contains("pharm2"),
        "{}",
        loser.text()
    );
    assert_eq!(count(&s.app, "prescriptions"), 1);
    assert_eq!(count(&s.app, "eps_prescriptions"), 1);
}

#[actix_web::test]
async fn clerks_accept_at_the_counter_and_couriers_cannot() {
    let mut s = setup().await;
    let code = s.sim.issue(&today_payload(), &[]);
    s.sim.start();
    let clerk = s.app.user(&s.pharmacy, "clerk1", Role::Clerk);
    let secret = s.app.enable_totp(&clerk);
    let clerk = s.app.signed_in("clerk1", Some(&secret)).await;
    let courier = s.app.user(&s.pharmacy, "courier1", Role::Courier);
    let secret = s.app.enable_totp(&courier);
    let courier = s.app.signed_in("courier1", Some(&secret)).await;
    let url = format!("/api/v1/pharmacies/{}/eps/accept", s.pharmacy);
    assert_eq!(
        courier.post_json(&url, accept_body(&code)).await.status,
        403
    );
    let r = clerk.post_json(&url, accept_body(&code)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/pharmacies/{}/prescriptions/{id}", s.pharmacy);
    // Dispensing and refusing to dispense are the pharmacist's.
    assert_eq!(
        clerk
            .post_json(&format!("{base}/dispense"), json!({}))
            .await
            .status,
        403
    );
    let reject = json!({"reject": true, "reason": "患者が他の薬局を希望"});
    assert_eq!(
        clerk
            .post_json(&format!("{base}/eps/cancel-acceptance"), reject)
            .await
            .status,
        403
    );
    let r = clerk
        .post_json(
            &format!("{base}/eps/cancel-acceptance"),
            json!({"reason": "患者が他の薬局を希望"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["stage"], "cancelled");
}

#[actix_web::test]
async fn results_wait_while_the_service_is_down_and_register_when_it_returns() {
    let mut s = setup().await;
    let code = s.sim.issue(&today_payload(), &[]);
    s.sim.start();
    let base = format!("/api/v1/pharmacies/{}", s.pharmacy);
    let r = s
        .client
        .post_json(&format!("{base}/eps/accept"), accept_body(&code))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    s.sim.stop();
    let r = s
        .client
        .post_json(&format!("{base}/prescriptions/{id}/dispense"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The terminal does not answer: the job is kept for a retry.
    assert_eq!(s.app.worker().run_until_idle().unwrap(), 1);
    let pending = s
        .client
        .get(&format!("{base}/eps/pending-results"))
        .await
        .json();
    let row = &pending.as_array().unwrap()[0];
    assert_eq!(row["state"], "result_pending");
    assert_eq!(row["attempts"], 1);
    assert!(row["last_error"].as_str().unwrap().contains("no answer"));
    assert!(s.sim.status(&code).contains("調剤中 result=no"));
    // Nothing is due before the backoff has passed.
    assert_eq!(s.app.worker().run_until_idle().unwrap(), 0);

    s.sim.start();
    s.app.advance(chrono::Duration::hours(1));
    assert_eq!(s.app.worker().run_until_idle().unwrap(), 1);
    assert!(s.sim.status(&code).contains("調剤済 result=yes"));
    // (The session has expired meanwhile; the database shows the outcome.)
    let _ = id;
    assert_eq!(
        count(&s.app, "eps_prescriptions WHERE state = 'registered'"),
        1
    );
    assert_eq!(s.app.audit("eps.result_retry_scheduled").len(), 1);
}

#[actix_web::test]
async fn unreadable_payloads_and_answers_are_kept_and_change_nothing() {
    let mut s = setup().await;
    let broken = s.sim.issue("NOT A PRESCRIPTION\r\n201,x\r\n", &["--raw"]);
    s.sim.start();
    let base = format!("/api/v1/pharmacies/{}", s.pharmacy);
    let r = s
        .client
        .post_json(&format!("{base}/eps/accept"), accept_body(&broken))
        .await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("処方箋データを読めませんでした"));
    assert!(
        r.text().contains("line 2, record 201"),
        "the error names the line: {}",
        r.text()
    );
    // The acceptance was handed back to the service.
    assert!(s.sim.status(&broken).contains("未受付"));
    s.sim.stop();

    // A terminal answering garbage.
    let dir = s.sim.dir.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let garbage = std::thread::spawn(move || {
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            for e in std::fs::read_dir(dir.join("req")).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(id) = name.strip_suffix("_req.xml") {
                    std::fs::write(dir.join(format!("res/{id}_res.xml")), b"<<<not xml at all")
                        .unwrap();
                    let _ = std::fs::remove_file(e.path());
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let r = s
        .client
        .post_json(&format!("{base}/eps/accept"), accept_body("123456"))
        .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    garbage.join().unwrap();
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("応答を読めませんでした"));

    let kept = s.client.get(&format!("{base}/eps/messages")).await.json();
    let kept = kept.as_array().unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept
        .iter()
        .any(|m| m["raw"].as_str().unwrap().contains("NOT A PRESCRIPTION")));
    assert!(kept
        .iter()
        .any(|m| m["raw"].as_str().unwrap().contains("<<<not xml")));
    assert_eq!(count(&s.app, "prescriptions"), 0);
    assert_eq!(count(&s.app, "eps_claims"), 0);
}

#[actix_web::test]
async fn without_a_terminal_intake_says_so() {
    let app = TestApp::spawn().await;
    let pharmacy = app.pharmacy("1341234567", "さくら薬局");
    let pharm = app.user(&pharmacy, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&pharm);
    let c = app.signed_in("pharm1", Some(&secret)).await;
    let r = c
        .post_json(
            &format!("/api/v1/pharmacies/{pharmacy}/eps/accept"),
            accept_body("123456"),
        )
        .await;
    assert_eq!(r.status, 503);
    assert!(r.text().contains("設定されていません"));
}

#[actix_web::test]
async fn the_console_desk_accepts_and_the_page_shows_the_service_side() {
    let mut s = setup().await;
    let code = s.sim.issue(&today_payload(), &[]);
    s.sim.start();
    let desk = format!("/p/{}/eps", s.pharmacy);
    let page = s.client.get(&desk).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("引換番号で受け付ける"));
    let token = crate::common::form_token(&page.text());
    let wrong = s
        .client
        .post_form(
            &format!("{desk}/accept"),
            &[
                ("csrf_token", &token),
                ("access_code", "000000"),
                ("insurer_number", "01130012"),
                ("insured_number", "1001"),
                ("insured_branch", "01"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert!(
        wrong.text().contains("該当する処方箋がありません"),
        "{}",
        wrong.text()
    );
    assert!(wrong.text().contains("01130012"), "what was typed is kept");
    let ok = s
        .client
        .post_form(
            &format!("{desk}/accept"),
            &[
                ("csrf_token", &token),
                ("access_code", &code),
                ("insurer_number", "01130012"),
                ("insured_number", "1001"),
                ("insured_branch", "01"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.text());
    let location = ok.header("location").unwrap();
    let page = s.client.get(&location).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    for text in [
        "電子処方箋",
        &code,
        "検証済み",
        "調剤済みにする",
        "経過",
        "eps.accepted",
    ] {
        assert!(html.contains(text), "{text} missing");
    }
    let item = s
        .client
        .get(&format!(
            "/api/v1/pharmacies/{}/prescriptions/{}",
            s.pharmacy,
            location.rsplit('/').next().unwrap()
        ))
        .await
        .json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = s
        .client
        .post_form(
            &format!("{location}/dispense"),
            &[
                ("csrf_token", &token),
                (&format!("lot:{item}"), "LOT-1"),
                (&format!("exp:{item}"), "2031-01-31"),
                ("message", "残薬調整なし"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text());
    let page = s.client.get(&location).await.text();
    assert!(page.contains("LOT-1") && page.contains("調剤済・結果登録待ち"));
    let desk_page = s.client.get(&desk).await.text();
    assert!(
        desk_page.contains("登録待ち</td>") && desk_page.contains("花子"),
        "{desk_page}"
    );
}
