//! Handover at the door through the real app: the one-time code from the shipped
//! notice (wrong codes counted and then locked, a used code refused, a new code
//! by the pharmacy), only the assigned courier, a proxy confirmed by phone, the
//! courier's view without contents, and the patient's receipt confirmation.

use diesel::prelude::*;
use pharmacy::db::schema::notifications;
use pharmacy::domain::role::Role;
use serde_json::{json, Value};

use crate::common::{form_token, TestClient};
use crate::deliveries::{complete_guidance, dispensed, setup, Setup, AMLODIN};

const MUCOSTA: &str = "2329021F1102";

/// The body of the latest notice of `kind`.
pub(crate) fn latest_notice(s: &Setup, kind: &str) -> String {
    latest_notice_in(&s.app, kind)
}

/// The body of the latest notice of `kind` in `app`.
pub(crate) fn latest_notice_in(app: &crate::common::TestApp, kind: &str) -> String {
    notifications::table
        .filter(notifications::kind.eq(kind))
        .order(notifications::created_at.desc())
        .select(notifications::body_text)
        .first::<String>(&mut app.conn())
        .unwrap_or_default()
}

/// The 6-digit code in the latest shipped notice.
pub(crate) fn shipped_code(s: &Setup) -> String {
    shipped_code_in(&s.app)
}

/// The 6-digit code in the latest shipped notice in `app`.
pub(crate) fn shipped_code_in(app: &crate::common::TestApp) -> String {
    let body = latest_notice_in(app, "delivery_shipped");
    let at = body.find("受け渡しコード: ").expect("code in the notice") + "受け渡しコード: ".len();
    body[at..at + 6].to_string()
}

/// A plain delivery by contracted courier, sealed, handed to `courier1`, out.
async fn on_the_road(s: &Setup, rules: &str, nth: i64) -> String {
    // Different products, so the second dispensing raises no duplicate finding.
    let rx = dispensed(s, [AMLODIN, MUCOSTA][nth as usize % 2]).await;
    complete_guidance(s, &rx, nth);
    let api = format!("/api/v1/pharmacies/{}/deliveries", s.pid);
    let r = s
        .clerk
        .post_json(
            &api,
            json!({"prescription_ids": [rx], "method": "courier", "destination": "東京都新宿区新宿1-2-3",
                   "recipient_rules": rules, "handling_notes": "インターホン故障、ノックしてください",
                   "window_start": "2026-12-01T10:00", "window_end": "2026-12-01T12:00"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["delivery"]["id"].as_str().unwrap().to_string();
    for body in [
        json!({"state": "sealed", "place": "薬局", "seal_number": "S-1"}),
        json!({"state": "handed_to_courier", "place": "薬局", "courier_id": s.courier}),
    ] {
        let r = s.clerk.post_json(&format!("{api}/{id}/steps"), body).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    id
}

pub(crate) async fn hand_over(
    c: &TestClient,
    s: &Setup,
    id: &str,
    body: Value,
) -> crate::common::Resp {
    c.post_json(
        &format!("/api/v1/pharmacies/{}/deliveries/{id}/handover", s.pid),
        body,
    )
    .await
}

#[actix_web::test]
async fn handover_needs_the_code_the_assigned_courier_and_counts_wrong_codes() {
    let s = setup().await;
    let id = on_the_road(&s, "家族可", 0).await;
    let code = shipped_code(&s);
    assert!(code.chars().all(|c| c.is_ascii_digit()));
    let shipped = latest_notice(&s, "delivery_shipped");
    assert!(shipped.contains("12月01日 10:00〜12:00"), "{shipped}");
    assert!(!shipped.contains("アムロジン"), "no product in notices");

    // The courier's own page: their stop, what they need, never the contents.
    let courier = s.app.signed_in("courier1", None).await;
    let r = courier.get("/api/v1/courier/deliveries").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let stops = r.json();
    assert_eq!(stops.as_array().unwrap().len(), 1);
    assert_eq!(stops[0]["address"], "東京都新宿区新宿1-2-3");
    assert_eq!(stops[0]["patient_name"], "山田\u{3000}太郎");
    assert!(!r.text().contains("アムロジン") && !r.text().contains(AMLODIN));
    let staff_view = format!("/api/v1/pharmacies/{}/deliveries/{id}", s.pid);
    assert_eq!(
        courier.get(&staff_view).await.status,
        403,
        "no contents for couriers"
    );
    let page = courier.get("/courier").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("東京都新宿区新宿1-2-3") && !page.text().contains("アムロジン"));

    // The courier records the road step.
    let r = courier
        .post_json(
            &format!("/api/v1/pharmacies/{}/deliveries/{id}/steps", s.pid),
            json!({"state": "out_for_delivery", "place": "新宿営業所"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(latest_notice(&s, "delivery_out").contains("お届けに向かっています"));

    // Another courier of the pharmacy is not assigned: refused, audited.
    s.app.user(&s.pid, "courier2", Role::Courier);
    let other = s.app.signed_in("courier2", None).await;
    let r = hand_over(
        &other,
        &s,
        &id,
        json!({"recipient": "patient", "code": code, "place": "玄関"}),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(s
        .app
        .audit("delivery.handed_over")
        .iter()
        .any(|a| a.outcome == "denied"));
    assert_eq!(
        other.get("/api/v1/courier/deliveries").await.json(),
        json!([])
    );

    // Wrong codes: counted, then locked; the right code is refused once locked.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for remaining in (1..5).rev() {
        let r = hand_over(
            &courier,
            &s,
            &id,
            json!({"recipient": "patient", "code": wrong, "place": "玄関"}),
        )
        .await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert!(
            r.text().contains(&format!("残り{remaining}回")),
            "{}",
            r.text()
        );
    }
    let r = hand_over(
        &courier,
        &s,
        &id,
        json!({"recipient": "patient", "code": wrong, "place": "玄関"}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("ロック"));
    let r = hand_over(
        &courier,
        &s,
        &id,
        json!({"recipient": "patient", "code": code, "place": "玄関"}),
    )
    .await;
    assert_eq!(
        r.status,
        409,
        "locked even with the right code: {}",
        r.text()
    );
    assert_eq!(
        s.app
            .audit("delivery.handed_over")
            .iter()
            .filter(|a| a.outcome == "failed")
            .count(),
        6
    );

    // The pharmacy sends a new code (a courier cannot); the old one is now wrong.
    let reissue = format!("/api/v1/pharmacies/{}/deliveries/{id}/code", s.pid);
    assert_eq!(courier.post_json(&reissue, json!({})).await.status, 403);
    assert_eq!(s.clerk.post_json(&reissue, json!({})).await.status, 200);
    let fresh = shipped_code(&s);
    if fresh != code {
        let r = hand_over(
            &courier,
            &s,
            &id,
            json!({"recipient": "patient", "code": code, "place": "玄関"}),
        )
        .await;
        assert_eq!(r.status, 422, "{}", r.text());
    }
    let r = hand_over(
        &courier,
        &s,
        &id,
        json!({"recipient": "patient", "code": fresh, "place": "玄関", "signature": "M10,10 L20,20 L30,15"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = r.json();
    assert_eq!(d["delivery"]["state"], "delivered");
    assert_eq!(d["delivery"]["signature"], "M10,10 L20,20 L30,15");
    assert!(
        d["delivery"].get("code_hash").is_none(),
        "the hash never leaves"
    );
    // A used code is refused.
    let r = hand_over(
        &courier,
        &s,
        &id,
        json!({"recipient": "patient", "code": fresh, "place": "玄関"}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("使用済み"));
    let rx_handed: Option<chrono::NaiveDateTime> = pharmacy::db::schema::prescriptions::table
        .filter(pharmacy::db::schema::prescriptions::pharmacy_id.eq(&s.pid))
        .select(pharmacy::db::schema::prescriptions::handed_over_at)
        .first(&mut s.app.conn())
        .unwrap();
    assert!(
        rx_handed.is_some(),
        "the prescription counts as handed over"
    );

    // The delivered notice asks the patient to confirm receipt, once.
    let delivered = latest_notice(&s, "delivery_delivered");
    let at = delivered.find("/portal/receipt/").expect("receipt link");
    let token: String = delivered[at + "/portal/receipt/".len()..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let patient = s.app.client();
    let page = patient.get(&format!("/portal/receipt/{token}")).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let csrf = form_token(&page.text());
    let r = patient
        .post_form(
            &format!("/portal/receipt/{token}"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("受け取りを確認しました"));
    let r = patient
        .post_form(
            &format!("/portal/receipt/{token}"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 409, "a used link");
    let d = s.clerk.get(&staff_view).await.json();
    assert!(d["delivery"]["receipt_confirmed_at"].is_string());
}

#[actix_web::test]
async fn a_proxy_needs_the_pharmacys_phone_confirmation() {
    let s = setup().await;
    let id = on_the_road(&s, "家族可", 0).await;
    let courier = s.app.signed_in("courier1", None).await;
    let steps = format!("/api/v1/pharmacies/{}/deliveries/{id}/steps", s.pid);
    let r = courier
        .post_json(
            &steps,
            json!({"state": "out_for_delivery", "place": "営業所"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let as_wife = json!({"recipient": "proxy", "recipient_name": "山田 花子", "relation": "妻", "place": "玄関"});
    let r = hand_over(&courier, &s, &id, as_wife.clone()).await;
    assert_eq!(r.status, 409, "no phone confirmation yet: {}", r.text());
    let proxy = format!("/api/v1/pharmacies/{}/deliveries/{id}/proxy", s.pid);
    let confirm =
        json!({"name": "山田 花子", "relation": "妻", "note": "本人に電話、妻が受け取ると確認"});
    assert_eq!(
        courier.post_json(&proxy, confirm.clone()).await.status,
        403,
        "only the pharmacy confirms"
    );
    let r = s.clerk.post_json(&proxy, confirm).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = hand_over(
        &courier,
        &s,
        &id,
        json!({"recipient": "proxy", "recipient_name": "山田 次郎", "relation": "長男", "place": "玄関"}),
    )
    .await;
    assert_eq!(r.status, 409, "not the confirmed person: {}", r.text());
    let r = hand_over(&courier, &s, &id, as_wife).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let received = r.json()["delivery"]["received_by"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        received.contains("山田花子") && received.contains("妻"),
        "{received}"
    );

    // A failed attempt records the reason and the next attempt.
    let id2 = on_the_road(&s, "本人のみ", 1).await;
    let steps2 = format!("/api/v1/pharmacies/{}/deliveries/{id2}/steps", s.pid);
    courier
        .post_json(
            &steps2,
            json!({"state": "out_for_delivery", "place": "営業所"}),
        )
        .await;
    let r = courier
        .post_json(
            &steps2,
            json!({"state": "failed_attempt", "place": "玄関", "note": "不在", "next_attempt": "2030-12-02T10:00"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["delivery"]["next_attempt_at"].is_string());
    assert!(latest_notice(&s, "delivery_failed_attempt").contains("不在"));
    // 本人のみ: a proxy is never accepted.
    let r = s
        .clerk
        .post_json(
            &format!("/api/v1/pharmacies/{}/deliveries/{id2}/proxy", s.pid),
            json!({"name": "山田 花子", "relation": "妻", "note": "電話"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
}
