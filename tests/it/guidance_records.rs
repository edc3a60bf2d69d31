//! Online guidance beyond scheduling, through the real app: consents whose window
//! follows the booking, the national services' qualification side (the simulator on
//! a terminal folder), holding a session, the first-visit review, signed records
//! that only grow by versions, and patients booking through their link.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Duration;
use diesel::prelude::*;
use pharmacy::clock::Clock;
use pharmacy::domain::role::Role;
use serde_json::{json, Value};

use crate::common::{Options, TestApp, TestClient};

const AMLODIN: &str = "2171022F2041";
const OXYCONTIN: &str = "8119002G5020";
pub(crate) const VERSION: &str = pharmacy::domain::guidance::consent::EXPLANATION_VERSION;

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    /// The pharmacist, signed in once (a TOTP code is good for one sign-in).
    pub(crate) pharm: TestClient,
    pub(crate) pid: String,
    pub(crate) ph: String,
    secret: String,
    pub(crate) patient: String,
    term: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

impl Setup {
    /// Signs the pharmacist in again (after the clock moved on).
    async fn pharm_again(&self) -> TestClient {
        self.app.signed_in("pharm1", Some(&self.secret)).await
    }

    fn api(&self) -> String {
        format!("/api/v1/pharmacies/{}/guidance", self.pid)
    }

    pub(crate) fn today(&self) -> chrono::NaiveDate {
        pharmacy::context::jst(self.app.clock.now().naive_utc()).date_naive()
    }

    /// Books `days` ahead at 09:20 (Japan time) for `rx`.
    async fn book(&self, c: &TestClient, days: i64, rx: Option<&str>) -> Value {
        let day = self.today() + Duration::days(days);
        let r = c
            .post_json(
                &format!("{}/sessions", self.api()),
                json!({"pharmacist_id": self.ph, "patient_id": self.patient,
                       "prescription_id": rx, "start": format!("{day}T09:20")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    }
}

pub(crate) async fn setup() -> Setup {
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
            ("PHARMACY__EPS__TIMEOUT_SECS", "3".into()),
            ("PHARMACY__EPS__POLL_INTERVAL_MS", "5".into()),
            ("PHARMACY__EPS__PROCESSING_RETRY_MS", "20".into()),
        ],
        ..Options::default()
    })
    .await;
    pharmacy::drugs::import::import_curated(&mut app.conn(), &app.operator()).unwrap();
    let pid = app.pharmacy("1341234567", "さくら薬局");
    let ph = app.user(&pid, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&ph);
    app.user(&pid, "clerk1", Role::Clerk);
    let patient = app.patient(&pid, "山田 太郎", "ヤマダ タロウ");
    let pharm = app.signed_in("pharm1", Some(&secret)).await;
    let s = Setup {
        pharm,
        app,
        pid,
        ph,
        secret,
        patient,
        term,
        _tmp: tmp,
    };
    let week: Vec<_> = (1..=7)
        .map(|d| json!({"weekday": d, "start": "09:00", "end": "11:00"}))
        .collect();
    let r = s
        .pharm
        .put_json(
            &format!("{}/pharmacists/{}/hours", s.api(), s.ph),
            json!(week),
        )
        .await;
    assert_eq!(r.status, 204);
    s
}

/// The simulator serving the terminal folder on a thread until dropped.
struct SimThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl SimThread {
    fn start(dir: &std::path::Path) -> SimThread {
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s) = (dir.to_path_buf(), stop.clone());
        let handle = std::thread::spawn(move || {
            pharmacy::eps::sim::serve_until(
                &d,
                std::time::Duration::ZERO,
                std::time::Duration::from_millis(5),
                &s,
            )
        });
        SimThread {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for SimThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn consent_until(app: &TestApp, pid: &str, session: &str) -> (Option<String>, Option<String>) {
    use pharmacy::db::schema::guidance_consents as k;
    let (until, ended): (Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>) = k::table
        .filter(k::pharmacy_id.eq(pid))
        .filter(k::session_id.eq(session))
        .filter(k::kind.eq("qualification_viewing"))
        .select((k::valid_until, k::ended_at))
        .first(&mut app.conn())
        .unwrap();
    (
        until.map(|u| u.format("%Y-%m-%dT%H:%M:%S").to_string()),
        ended.map(|e| e.to_string()),
    )
}

#[actix_web::test]
async fn the_viewing_consent_follows_the_booking_and_bounds_drug_information() {
    let s = setup().await;
    let _sim = SimThread::start(&s.term);
    let clerk = s.app.signed_in("clerk1", None).await;
    let session = s.book(&clerk, 3, None).await;
    let sid = session["id"].as_str().unwrap().to_string();
    let consents = format!("{}/patients/{}/consents", s.api(), s.patient);

    // Consent to online guidance: only after the current explanation was shown.
    for body in [
        json!({"kind": "online_guidance", "text_version": VERSION}),
        json!({"kind": "online_guidance", "text_version": "2020-old", "explanation_shown": true}),
        json!({"kind": "qualification_viewing"}),
        json!({"kind": "something"}),
    ] {
        let r = clerk.post_json(&consents, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
    }
    let r = clerk
        .post_json(
            &consents,
            json!({"kind": "online_guidance", "text_version": VERSION, "explanation_shown": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // The viewing consent for the booking: until the end of the guidance day (JST).
    let r = clerk
        .post_json(
            &consents,
            json!({"kind": "qualification_viewing", "session_id": sid}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let day3 = s.today() + Duration::days(3);
    assert_eq!(
        consent_until(&s.app, &s.pid, &sid),
        (Some(format!("{day3}T14:59:59")), None)
    );
    let r = clerk
        .post_json(
            &consents,
            json!({"kind": "qualification_viewing", "session_id": sid}),
        )
        .await;
    assert_eq!(r.status, 409, "one open viewing consent per booking");

    // The patient consented on マイナ在宅受付Web too (the simulator's side).
    let day5 = s.today() + Duration::days(5);
    pharmacy::eps::sim_qual::register_consent(
        &s.term,
        pharmacy::eps::sim_qual::SimConsent {
            pharmacy_code: "1341234567".into(),
            insurer_number: "01130012".into(),
            insured_number: "123".into(),
            insured_branch: String::new(),
            birth_date: chrono::NaiveDate::from_ymd_opt(1970, 1, 2).unwrap(),
            name: "山田 太郎".into(),
            consent_date: s.today(),
            visit_date: day5,
            eligible: true,
            drugs: vec![pharmacy::eps::sim_qual::SimDrug {
                code: AMLODIN.into(),
                name: "アムロジン錠5mg".into(),
                dispensed_on: s.today() - Duration::days(3),
                days: 28,
                institution: "新宿内科クリニック".into(),
            }],
        },
    )
    .unwrap();

    // Drug information inside the window: fetched, stored, and a check source.
    let pharm = &s.pharm;
    let drug_info = format!("{}/patients/{}/drug-information", s.api(), s.patient);
    let r = clerk.post_json(&drug_info, json!({})).await;
    assert_eq!(r.status, 403, "clerks do not fetch drug information");
    let r = pharm.post_json(&drug_info, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()[0]["drug_name"], "アムロジン錠5mg");
    let history =
        pharmacy::medications::history(&mut s.app.conn(), &s.pid, &s.patient, s.today()).unwrap();
    assert!(
        history
            .iter()
            .any(|m| m.source == pharmacy::domain::checks::MedSource::National && m.drug.is_some()),
        "national drug information feeds the checks"
    );
    assert!(!s.app.audit("guidance.drug_info_fetched").is_empty());

    // Moving the booking moves the window.
    let r = clerk
        .post_json(
            &format!("{}/sessions/{sid}/move", s.api()),
            json!({"start": format!("{day5}T09:40"), "reason": "患者都合"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        consent_until(&s.app, &s.pid, &sid),
        (Some(format!("{day5}T14:59:59")), None)
    );

    // Bulk eligibility: request → receipt → result later (the job asks again
    // while the service is still making it); the consent is confirmed.
    let r = clerk
        .post_json(
            &format!("{}/eligibility", s.api()),
            json!({"consent_date": s.today().to_string(), "visit_date": day5.to_string()}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["status"], "requested");
    s.app.worker().run_until_idle().unwrap();
    let list = clerk.get(&format!("{}/eligibility", s.api())).await.json();
    assert_eq!(list[0]["status"], "received", "{list}");
    assert_eq!(list[0]["matched"], 1);
    assert!(list[0]["receipt_number"].as_str().unwrap().starts_with('R'));
    let mine = clerk.get(&consents).await.json();
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .any(|k| k["kind"] == "qualification_viewing" && !k["confirmed_at"].is_null()),
        "{mine}"
    );

    // After the (moved) guidance day, drug information is refused here and audited.
    s.app.advance(Duration::days(6));
    let pharm = s.pharm_again().await;
    let r = pharm.post_json(&drug_info, json!({})).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("閲覧同意"), "{}", r.text());
    let refused = s.app.audit("guidance.drug_info_refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].outcome, "failed");

    // A cancelled booking ends its consent at once.
    let clerk = s.app.signed_in("clerk1", None).await;
    let again = s.book(&clerk, 2, None).await;
    let sid2 = again["id"].as_str().unwrap();
    let r = clerk
        .post_json(
            &consents,
            json!({"kind": "qualification_viewing", "session_id": sid2}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = pharm.post_json(&drug_info, json!({})).await;
    assert_ne!(r.status, 403, "inside the new window: {}", r.text());
    let r = clerk
        .post_json(
            &format!("{}/sessions/{sid2}/cancel", s.api()),
            json!({"reason": "入院のため"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let (_, ended) = consent_until(&s.app, &s.pid, sid2);
    assert!(ended.is_some());
    let r = pharm.post_json(&drug_info, json!({})).await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("取消"), "{}", r.text());
    assert_eq!(s.app.audit("guidance.drug_info_refused").len(), 2);
}

fn record(extra: Value) -> Value {
    let mut v = json!({
        "subjective": "夜の薬を飲み忘れることがある",
        "objective": "顔色良好",
        "assessment": "服薬アドヒアランスやや低下",
        "plan": "朝食後への変更を医師に提案",
        "topics": ["用法・用量", "副作用"],
        "adherence": "partial",
        "leftover": "アムロジン 5錠",
        "side_effects": "なし",
    });
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            m.insert(k.clone(), x.clone());
        }
    }
    v
}

#[actix_web::test]
async fn a_session_is_held_and_its_signed_record_only_grows_by_versions() {
    let s = setup().await;
    let pharm = &s.pharm;
    // A first visit with a narcotic is flagged for review.
    let r = pharm
        .post_json(
            &format!("/api/v1/pharmacies/{}/prescriptions", s.pid),
            json!({"patient_id": s.patient, "institution_name": "新宿内科クリニック",
                   "prescriber_name": "医師 一郎", "issue_date": s.today().to_string(),
                   "items": [{"rp": 1, "drug_code": OXYCONTIN, "dose": "1錠", "usage": "1日2回", "days": 7}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let rx = r.json()["id"].as_str().unwrap().to_string();
    let session_day = s.today() + Duration::days(1);
    let session = s.book(pharm, 1, Some(&rx)).await;
    let sid = session["id"].as_str().unwrap().to_string();
    assert!(
        session["review_reasons"].as_str().unwrap().contains("麻薬"),
        "{session}"
    );
    let api = s.api();
    let start = format!("{api}/sessions/{sid}/start");
    let finish = format!("{api}/sessions/{sid}/finish");
    let records = format!("{api}/sessions/{sid}/records");
    let opening =
        json!({"identity_check": "mynumber_card", "meeting_url": "https://meet.example.jp/r/abc"});
    let r = pharm.post_json(&start, opening.clone()).await;
    assert_eq!(r.status, 409, "review pending: {}", r.text());
    let r = pharm
        .post_json(
            &format!("{api}/sessions/{sid}/review"),
            json!({"note": "疼痛管理目的、処方医に確認済み"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = pharm.post_json(&start, opening.clone()).await;
    assert_eq!(r.status, 409, "no consent to online guidance yet");
    let r = pharm
        .post_json(
            &format!("{api}/patients/{}/consents", s.patient),
            json!({"kind": "online_guidance", "text_version": VERSION, "explanation_shown": true}),
        )
        .await;
    assert_eq!(r.status, 201);
    // A new patient must show an ID; others present need consent; the link is https.
    for body in [
        json!({"identity_check": "known_patient", "meeting_url": "https://meet.example.jp/r/abc"}),
        json!({"identity_check": "passport", "meeting_url": "http://meet.example.jp/r/abc"}),
        json!({"identity_check": "passport", "meeting_url": "https://meet.example.jp/r/abc", "attendees": "長女"}),
    ] {
        let r = pharm.post_json(&start, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
    }
    // Not completed yet: no record, and delivery may not start.
    let guidance_state = format!("/api/v1/pharmacies/{}/prescriptions/{rx}/guidance", s.pid);
    assert_eq!(pharm.get(&guidance_state).await.json()["completed"], false);
    let r = pharm.post_json(&records, record(json!({}))).await;
    assert_eq!(r.status, 409);
    // No answer → retry; then held and completed.
    let r = pharm
        .post_json(&finish, json!({"outcome": "no_answer"}))
        .await;
    assert_eq!(r.status, 422, "a failed session says what happens next");
    let r = pharm
        .post_json(
            &finish,
            json!({"outcome": "no_answer", "fallback": "retry"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = pharm
        .post_json(
            &start,
            json!({"identity_check": "mynumber_card", "meeting_url": "https://meet.example.jp/r/abc",
                   "attendees": "長女（同席に同意）", "attendees_consented": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    s.app.advance(Duration::minutes(9));
    let r = pharm
        .post_json(&finish, json!({"outcome": "completed"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let held = r.json();
    assert_eq!(held["outcome"], "completed");
    assert!(!held["started_at"].is_null() && !held["ended_at"].is_null());
    assert_eq!(pharm.get(&guidance_state).await.json()["completed"], true);

    // Signing: a clerk cannot; the pharmacist signs version 1.
    let clerk = s.app.signed_in("clerk1", None).await;
    assert_eq!(
        clerk.post_json(&records, record(json!({}))).await.status,
        403
    );
    let r = pharm
        .post_json(&records, record(json!({"topics": []})))
        .await;
    assert_eq!(r.status, 422);
    let r = pharm.post_json(&records, record(json!({}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v1 = r.json();
    assert_eq!(v1["version"], 1);
    let retain = (s.today() + chrono::Months::new(36)).to_string(); // signed today
    assert_eq!(v1["retain_until"], retain.as_str());
    // A change is only a new version, with its reason.
    let r = pharm
        .post_json(&records, record(json!({"leftover": "アムロジン 7錠"})))
        .await;
    assert_eq!(r.status, 422, "a correction needs its reason");
    let r = pharm
        .post_json(
            &records,
            record(json!({"leftover": "アムロジン 7錠", "correction_reason": "残薬数の誤記"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["version"], 2);
    // The table refuses edits and deletions even by direct SQL.
    let mut conn = s.app.conn();
    let update =
        diesel::sql_query("UPDATE guidance_records SET leftover = 'なし'").execute(&mut conn);
    assert!(update.is_err(), "signed records cannot be edited");
    let delete = diesel::sql_query("DELETE FROM guidance_records").execute(&mut conn);
    assert!(delete.is_err(), "signed records cannot be removed");
    let versions = pharm.get(&records).await.json();
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["leftover"], "アムロジン 5錠");
    assert_eq!(versions[1]["leftover"], "アムロジン 7錠");
    assert_eq!(versions[1]["correction_reason"], "残薬数の誤記");
    let signed = s.app.audit("guidance.record_signed");
    assert_eq!(signed.iter().filter(|a| a.outcome == "ok").count(), 2);
    assert_eq!(signed.iter().filter(|a| a.outcome == "denied").count(), 1);
    // The completed session cannot be cancelled or moved any more.
    let r = pharm
        .post_json(
            &format!("{api}/sessions/{sid}/cancel"),
            json!({"reason": "誤り"}),
        )
        .await;
    assert_eq!(r.status, 409);
    // The day view shows it with its record.
    let lines = pharm
        .get(&format!("{api}/day?date={session_day}"))
        .await
        .json();
    assert_eq!(lines[0]["record_versions"], 2, "{lines}");
    assert_eq!(lines[0]["guidance_consent"], true);
    let detail = pharm.get(&format!("{api}/sessions/{sid}")).await.json();
    assert_eq!(detail["records"].as_array().unwrap().len(), 2);
}

fn last_link(app: &TestApp, kind: &str) -> String {
    use pharmacy::db::schema::notifications;
    let bodies: Vec<String> = notifications::table
        .filter(notifications::kind.eq(kind))
        .order(notifications::id.desc())
        .select(notifications::body_text)
        .load(&mut app.conn())
        .unwrap();
    let body = bodies.first().expect("notice");
    body.match_indices("/portal/")
        .map(|(at, _)| body[at..].split_whitespace().next().unwrap().to_string())
        .find(|l| !l.contains("connection-test"))
        .expect("portal link in the notice")
}

#[actix_web::test]
async fn a_patient_books_and_moves_through_their_links() {
    let s = setup().await;
    let clerk = s.app.signed_in("clerk1", None).await;
    let r = clerk
        .put_json(
            &format!("{}/settings", s.api()),
            json!({"slot_minutes": 15, "buffer_minutes": 5, "qualification_url": "https://myna.example.jp/zaitaku/1341234567"}),
        )
        .await;
    assert_eq!(r.status, 403, "admins set the pharmacy's settings");
    pharmacy::guidance::set_settings(
        &mut s.app.conn(),
        &s.app.operator(),
        &s.pid,
        &pharmacy::guidance::SettingsInput {
            slot_minutes: 15,
            buffer_minutes: 5,
            qualification_url: "https://myna.example.jp/zaitaku/1341234567".into(),
        },
    )
    .unwrap();
    let r = clerk
        .post_json(
            &format!("{}/patients/{}/invitations", s.api(), s.patient),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let link = last_link(&s.app, "guidance_invite");

    // The booking page: explanation, QR code of the qualification URL, free slots.
    let patient = s.app.client();
    let page = patient.get(&link).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(VERSION) && html.contains("<svg"), "{html}");
    assert!(html.contains("myna.example.jp"));
    let csrf = crate::common::form_token(&html);
    let day = s.today() + Duration::days(2);
    let slot = format!("{day}T09:20|{}", s.ph);
    let r = patient
        .post_form(
            &link,
            &[("csrf_token", &csrf), ("action", "book"), ("slot", &slot)],
        )
        .await;
    assert_eq!(r.status, 422, "consent to the explanation is required");
    let r = patient
        .post_form(
            &link,
            &[
                ("csrf_token", &csrf),
                ("action", "book"),
                ("slot", &slot),
                ("consent_version", VERSION),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("09:20"));
    let r = patient
        .post_form(
            &link,
            &[
                ("csrf_token", &csrf),
                ("action", "book"),
                ("slot", &slot),
                ("consent_version", VERSION),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "a used link");
    let consents = clerk
        .get(&format!("{}/patients/{}/consents", s.api(), s.patient))
        .await
        .json();
    assert_eq!(consents[0]["kind"], "online_guidance");
    assert_eq!(consents[0]["text_version"], VERSION);
    assert_eq!(consents[0]["recorded_by"], "system:patient-link");

    // The booking notice's link moves the booking to another free slot.
    let manage = last_link(&s.app, "guidance_booked");
    let page = patient.get(&manage).await;
    assert_eq!(page.status, 200);
    let slot = format!("{day}T10:00|{}", s.ph);
    let r = patient
        .post_form(
            &manage,
            &[("csrf_token", &csrf), ("action", "move"), ("slot", &slot)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = clerk
        .get(&format!("{}/day?date={day}", s.api()))
        .await
        .json();
    assert_eq!(lines.as_array().unwrap().len(), 1);
    assert!(
        lines[0]["starts_local"].as_str().unwrap().contains("10:00"),
        "{lines}"
    );
    assert!(!last_link(&s.app, "guidance_moved").is_empty());
}
