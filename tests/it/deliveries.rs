//! Deliveries through the real app: only after completed guidance, the method
//! restricted by the contents' flags (unknown flags included), no step skipped.

use chrono::Duration;
use pharmacy::clock::Clock;
use pharmacy::domain::role::Role;
use serde_json::{json, Value};

use crate::common::{TestApp, TestClient};

pub(crate) const AMLODIN: &str = "2171022F2041";
pub(crate) const OXYCONTIN: &str = "8119002G5020";
pub(crate) const DEPAS: &str = "1179025F1026";
pub(crate) const LOXONIN_TAPE: &str = "2649735S3020";

pub(crate) struct Setup {
    pub app: TestApp,
    pub pid: String,
    pub ph: String,
    pub courier: String,
    pub clerk_id: String,
    pub patient: String,
    pub pharm: TestClient,
    pub clerk: TestClient,
}

pub(crate) async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    pharmacy::drugs::import::import_curated(&mut app.conn(), &app.operator()).unwrap();
    let pid = app.pharmacy("1341234567", "さくら薬局");
    let ph = app.user(&pid, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&ph);
    let clerk_id = app.user(&pid, "clerk1", Role::Clerk);
    let courier = app.user(&pid, "courier1", Role::Courier);
    let patient = app.patient(&pid, "山田 太郎", "ヤマダ タロウ");
    let pharm = app.signed_in("pharm1", Some(&secret)).await;
    let clerk = app.signed_in("clerk1", None).await;
    Setup {
        app,
        pid,
        ph,
        courier,
        clerk_id,
        patient,
        pharm,
        clerk,
    }
}

/// A dispensed prescription of `code` (narcotics from received stock).
pub(crate) async fn dispensed(s: &Setup, code: &str) -> String {
    let r = s
        .pharm
        .post_json(
            &format!("/api/v1/pharmacies/{}/prescriptions", s.pid),
            json!({"patient_id": s.patient, "institution_name": "新宿内科クリニック",
                   "prescriber_name": "医師 一郎", "issue_date": "2026-11-20",
                   "items": [{"rp": 1, "drug_code": code, "dose": "1錠", "usage": "1日1回", "days": 7}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let rx = r.json();
    let id = rx["id"].as_str().unwrap().to_string();
    let body = if code == OXYCONTIN {
        let r = s
            .pharm
            .post_json(
                &format!("/api/v1/pharmacies/{}/ledger/entries", s.pid),
                json!({"product": code, "kind": "received", "quantity": 20, "unit": "錠", "reference": "卸"}),
            )
            .await;
        assert_eq!(r.status, 201);
        json!({"items": [{"item_id": rx["items"][0]["id"], "quantity": "7錠"}]})
    } else {
        json!({})
    };
    let r = s
        .pharm
        .post_json(
            &format!("/api/v1/pharmacies/{}/prescriptions/{id}/dispense", s.pid),
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    id
}

/// Holds and completes the guidance for `rx` (through the services).
pub(crate) fn complete_guidance(s: &Setup, rx: &str, nth: i64) {
    complete_guidance_for(&s.app, &s.pid, &s.ph, &s.patient, rx, nth)
}

/// Holds and completes the guidance for `rx` of `patient` with pharmacist `ph`.
pub(crate) fn complete_guidance_for(
    app: &TestApp,
    pid: &str,
    ph: &str,
    patient: &str,
    rx: &str,
    nth: i64,
) {
    use pharmacy::guidance::{self, conduct, consents};
    let mut c = app.conn();
    let ctx = app.operator();
    if nth == 0 {
        let week: Vec<_> = (1..=7)
            .map(|d| guidance::HoursInput {
                weekday: d,
                start: "09:00".into(),
                end: "17:00".into(),
            })
            .collect();
        guidance::set_hours(&mut c, &ctx, pid, ph, &week).unwrap();
        consents::record(
            &mut c,
            &ctx,
            pid,
            patient,
            &consents::ConsentInput {
                kind: "online_guidance".into(),
                text_version: Some(pharmacy::domain::guidance::consent::EXPLANATION_VERSION.into()),
                explanation_shown: true,
                ..consents::ConsentInput::default()
            },
        )
        .unwrap();
    }
    let day = pharmacy::context::jst(app.clock.now().naive_utc()).date_naive() + Duration::days(1);
    let start = (day.and_hms_opt(9, 0, 0).unwrap() + Duration::minutes(20 * nth))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let session = guidance::book(
        &mut c,
        &ctx,
        &app.state.outbox,
        &Default::default(),
        pid,
        &guidance::BookingInput {
            pharmacist_id: ph.to_string(),
            patient_id: patient.to_string(),
            prescription_id: Some(rx.into()),
            start,
        },
    )
    .unwrap();
    if session.needs_review() {
        conduct::review(&mut c, &ctx, pid, &session.id, "初診: 処方内容と既往を確認").unwrap();
    }
    conduct::start(
        &mut c,
        &ctx,
        pid,
        &session.id,
        &conduct::StartInput {
            identity_check: "mynumber_card".into(),
            meeting_url: "https://meet.example.jp/x".into(),
            ..conduct::StartInput::default()
        },
    )
    .unwrap();
    conduct::finish(
        &mut c,
        &ctx,
        pid,
        &session.id,
        &conduct::FinishInput {
            outcome: "completed".into(),
            ..conduct::FinishInput::default()
        },
    )
    .unwrap();
}

pub(crate) fn delivery(rx: &str, method: &str, confirm: bool) -> Value {
    json!({"prescription_ids": [rx], "method": method, "destination": "東京都新宿区新宿1-2-3",
           "recipient_rules": "本人のみ", "window_start": "2026-12-01T10:00",
           "window_end": "2026-12-01T12:00", "confirm_method": confirm})
}

#[actix_web::test]
async fn deliveries_wait_for_guidance_and_the_contents_restrict_the_method() {
    let s = setup().await;
    let api = format!("/api/v1/pharmacies/{}/deliveries", s.pid);
    let plain = dispensed(&s, AMLODIN).await;
    let narcotic = dispensed(&s, OXYCONTIN).await;
    let psychotropic = dispensed(&s, DEPAS).await;
    let unknown = dispensed(&s, LOXONIN_TAPE).await;
    // Guidance not completed: refused, and the refusal audited.
    let r = s
        .clerk
        .post_json(&api, delivery(&plain, "courier", false))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("服薬指導"));
    assert_eq!(s.app.audit("delivery.created")[0].outcome, "denied");
    for (i, rx) in [&plain, &narcotic, &psychotropic, &unknown]
        .into_iter()
        .enumerate()
    {
        complete_guidance(&s, rx, i as i64);
    }
    // Plain: a courier is fine.
    let r = s
        .clerk
        .post_json(&api, delivery(&plain, "courier", false))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let plain_delivery = r.json();
    // 麻薬: never by a contracted courier, even confirmed; pharmacy staff may carry it.
    let r = s
        .pharm
        .post_json(&api, delivery(&narcotic, "courier", true))
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = s
        .pharm
        .post_json(&api, delivery(&narcotic, "pharmacy_staff", false))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // 向精神薬: a pharmacist must confirm (a clerk's confirmation does not count).
    let r = s
        .clerk
        .post_json(&api, delivery(&psychotropic, "courier", true))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    let r = s
        .pharm
        .post_json(&api, delivery(&psychotropic, "courier", true))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["delivery"]["method_confirmed_by"], "pharm1");
    // An unknown storage flag: confirmation, and a logger travels with it.
    let r = s
        .pharm
        .post_json(&api, delivery(&unknown, "courier", false))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    let r = s
        .pharm
        .post_json(&api, delivery(&unknown, "courier", true))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["delivery"]["needs_logger"], true);
    // A prescription travels in one delivery only.
    let r = s
        .pharm
        .post_json(&api, delivery(&plain, "pickup", false))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());

    // Steps: none skipped, each with its facts.
    let id = plain_delivery["delivery"]["id"].as_str().unwrap();
    let steps = format!("{api}/{id}/steps");
    let go = |body: Value| {
        let steps = steps.clone();
        let c = &s.clerk;
        async move { c.post_json(&steps, body).await }
    };
    assert_eq!(
        go(json!({"state": "out_for_delivery", "place": "薬局"}))
            .await
            .status,
        409
    );
    assert_eq!(
        go(json!({"state": "sealed", "place": "薬局"})).await.status,
        422,
        "seal number"
    );
    assert_eq!(
        go(json!({"state": "sealed", "place": "薬局", "seal_number": "S-001"}))
            .await
            .status,
        200
    );
    let r =
        go(json!({"state": "handed_to_courier", "place": "薬局", "courier_id": s.clerk_id})).await;
    assert_eq!(r.status, 422, "a contracted courier's account is needed");
    let r =
        go(json!({"state": "handed_to_courier", "place": "薬局", "courier_id": s.courier})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        go(json!({"state": "out_for_delivery", "place": "新宿営業所"}))
            .await
            .status,
        200
    );
    assert_eq!(
        go(json!({"state": "delivered", "place": "玄関"}))
            .await
            .status,
        422,
        "handover is confirmed, not stepped"
    );
    assert_eq!(
        go(json!({"state": "failed_attempt", "place": "玄関"}))
            .await
            .status,
        422,
        "reason"
    );
    assert_eq!(
        go(json!({"state": "failed_attempt", "place": "玄関", "note": "不在"}))
            .await
            .status,
        200
    );
    assert_eq!(
        go(json!({"state": "returned_to_pharmacy", "place": "薬局", "note": "2回不在"}))
            .await
            .status,
        200
    );
    let d = s.clerk.get(&format!("{api}/{id}")).await.json();
    let timeline: Vec<&str> = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        timeline,
        [
            "prepared",
            "sealed",
            "handed_to_courier",
            "out_for_delivery",
            "failed_attempt",
            "returned_to_pharmacy"
        ]
    );
    assert_eq!(d["delivery"]["seal_number"], "S-001");
    assert_eq!(d["contents"][0]["product_code"], AMLODIN);
}
