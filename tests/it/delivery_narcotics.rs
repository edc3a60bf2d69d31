//! Controlled drugs at the door: a 麻薬 travels with pharmacy staff, enters the
//! ledger as 交付 at the handover, and its unconfirmed receipt is followed up; a
//! 麻薬 dispensed from a copy waits for its original.

use diesel::prelude::*;
use pharmacy::clock::Clock;
use serde_json::json;

use crate::deliveries::{complete_guidance, dispensed, setup, Setup};
use crate::delivery_handover::{hand_over, shipped_code, shipped_code_in};

#[actix_web::test]
async fn narcotics_travel_with_staff_enter_the_ledger_and_unconfirmed_receipt_is_followed_up() {
    use crate::deliveries::OXYCONTIN;
    let s = setup().await;
    let rx = dispensed(&s, OXYCONTIN).await;
    complete_guidance(&s, &rx, 0);
    let api = format!("/api/v1/pharmacies/{}/deliveries", s.pid);
    let r = s
        .pharm
        .post_json(
            &api,
            json!({"prescription_ids": [rx], "method": "pharmacy_staff", "destination": "東京都新宿区新宿1-2-3",
                   "recipient_rules": "本人のみ", "window_start": "2026-12-01T10:00", "window_end": "2026-12-01T12:00"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["delivery"]["needs_followup"], true);
    let id = r.json()["delivery"]["id"].as_str().unwrap().to_string();
    for body in [
        json!({"state": "sealed", "place": "薬局", "seal_number": "N-1"}),
        json!({"state": "handed_to_courier", "place": "薬局", "courier_id": s.clerk_id}),
        json!({"state": "out_for_delivery", "place": "薬局"}),
    ] {
        let r = s.clerk.post_json(&format!("{api}/{id}/steps"), body).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // A courier account that is not the carrier cannot hand it over.
    let courier = s.app.signed_in("courier1", None).await;
    let code = shipped_code(&s);
    let body = json!({"recipient": "patient", "code": code, "place": "玄関"});
    assert_eq!(hand_over(&courier, &s, &id, body.clone()).await.status, 403);
    let r = hand_over(&s.clerk, &s, &id, body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The handover is in the 麻薬帳簿 (the balance moved at dispensing).
    let entries = s
        .pharm
        .get(&format!(
            "/api/v1/pharmacies/{}/ledger/{OXYCONTIN}/entries",
            s.pid
        ))
        .await
        .json();
    let kinds: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["received", "dispensed", "handed_over"]);
    assert_eq!(entries[2]["balance_after"], 13);
    assert_eq!(entries[2]["reference"], id.as_str());

    // No receipt confirmation within the follow-up time: one task, however often the sweep runs.
    let sweep = |s: &Setup| {
        pharmacy::deliveries::followup_sweep(&mut s.app.conn(), s.app.clock.now()).unwrap()
    };
    assert_eq!(sweep(&s), 0, "not yet due");
    s.app.advance(chrono::Duration::hours(25));
    assert_eq!(sweep(&s), 1);
    assert_eq!(sweep(&s), 0);
    let tasks: Vec<String> = pharmacy::db::schema::staff_tasks::table
        .filter(pharmacy::db::schema::staff_tasks::kind.eq("delivery_unconfirmed"))
        .filter(pharmacy::db::schema::staff_tasks::done_at.is_null())
        .select(pharmacy::db::schema::staff_tasks::title)
        .load(&mut s.app.conn())
        .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(s.app.audit("delivery.followup_task").len(), 1);
    assert!(
        !tasks[0].contains("山田"),
        "no patient names in task titles"
    );
}

#[actix_web::test]
async fn a_narcotic_dispensed_from_a_copy_waits_for_its_original() {
    use crate::copies::{dispensed_copy, OXYCONTIN};
    let s = crate::copies::setup().await;
    let rx = dispensed_copy(&s, &s.clinic, OXYCONTIN).await;
    let ph: String = pharmacy::db::schema::users::table
        .filter(pharmacy::db::schema::users::username.eq("pharm1"))
        .select(pharmacy::db::schema::users::id)
        .first(&mut s.app.conn())
        .unwrap();
    crate::deliveries::complete_guidance_for(&s.app, &s.pid, &ph, &s.patient, &rx, 0);
    let api = format!("/api/v1/pharmacies/{}/deliveries", s.pid);
    let r = s
        .pharm
        .post_json(
            &api,
            json!({"prescription_ids": [rx], "method": "pharmacy_staff", "destination": "東京都新宿区新宿1-2-3",
                   "recipient_rules": "本人のみ", "window_start": "2026-12-01T10:00", "window_end": "2026-12-01T12:00"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["delivery"]["id"].as_str().unwrap().to_string();
    for body in [
        json!({"state": "sealed", "place": "薬局", "seal_number": "N-2"}),
        json!({"state": "handed_to_courier", "place": "薬局", "courier_id": ph}),
        json!({"state": "out_for_delivery", "place": "薬局"}),
    ] {
        let r = s.pharm.post_json(&format!("{api}/{id}/steps"), body).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let code = shipped_code_in(&s.app);
    let r = s
        .pharm
        .post_json(
            &format!("{api}/{id}/handover"),
            json!({"recipient": "patient", "code": code, "place": "玄関"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("原本"), "{}", r.text());
    let d = s.pharm.get(&format!("{api}/{id}")).await.json();
    assert_eq!(d["delivery"]["state"], "out_for_delivery");
    assert!(
        d["delivery"]["code_used_at"].is_null(),
        "the code is not used up"
    );
}
