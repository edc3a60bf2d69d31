//! The cold chain through the real app: a logger registered at sealing, readings
//! as CSV and as idempotent JSON batches, a gap and an excursion each putting the
//! delivery in quarantine (the patient told of a delay, never of the product),
//! the handover refused until a pharmacist decides, a courier's release refused,
//! and the trip's analysis (excursions, gaps, MKT) per product.

use chrono::{Duration, NaiveDateTime};
use pharmacy::clock::Clock;
use serde_json::{json, Value};

use crate::deliveries::{complete_guidance, dispensed, setup, Setup, LOXONIN_TAPE};
use crate::delivery_handover::{latest_notice, shipped_code};

fn rfc(t: NaiveDateTime) -> String {
    format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S"))
}

fn batch(serial: &str, from: NaiveDateTime, temps: &[f64]) -> Value {
    let readings: Vec<Value> = temps
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"at": rfc(from + Duration::minutes(i as i64)), "celsius": c}))
        .collect();
    json!({"logger_serial": serial, "readings": readings})
}

/// A delivery of a product with unknown storage (a logger, 2-8 °C), confirmed
/// by the pharmacist, sealed with logger `LG-7` (60 s), out for delivery.
async fn cold_delivery(s: &Setup) -> String {
    let rx = dispensed(s, LOXONIN_TAPE).await;
    complete_guidance(s, &rx, 0);
    let api = format!("/api/v1/pharmacies/{}/deliveries", s.pid);
    let r = s
        .pharm
        .post_json(
            &api,
            json!({"prescription_ids": [rx], "method": "courier", "destination": "東京都新宿区新宿1-2-3",
                   "recipient_rules": "本人のみ", "window_start": "2026-12-01T10:00",
                   "window_end": "2026-12-01T12:00", "confirm_method": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json();
    assert_eq!(d["contents"][0]["label_range"], "2-8");
    let id = d["delivery"]["id"].as_str().unwrap().to_string();
    let steps = format!("{api}/{id}/steps");
    let r = s
        .clerk
        .post_json(
            &steps,
            json!({"state": "sealed", "place": "薬局", "seal_number": "S-9"}),
        )
        .await;
    assert_eq!(r.status, 422, "a logger is required: {}", r.text());
    for body in [
        json!({"state": "sealed", "place": "薬局", "seal_number": "S-9", "logger_serial": "LG-7", "logger_interval_seconds": 60}),
        json!({"state": "handed_to_courier", "place": "薬局", "courier_id": s.courier}),
        json!({"state": "out_for_delivery", "place": "営業所"}),
    ] {
        let r = s.clerk.post_json(&steps, body).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    id
}

#[actix_web::test]
async fn gaps_and_excursions_quarantine_until_a_pharmacist_decides() {
    let s = setup().await;
    let id = cold_delivery(&s).await;
    let base = format!("/api/v1/pharmacies/{}/deliveries/{id}", s.pid);
    let now = s.app.clock.now().naive_utc();
    let start = now - Duration::minutes(30);

    // A CSV export (Japan time, serial in the preamble): clean.
    let mut csv = String::from("Serial Number,LG-7\nInterval,60\nDate/Time,Temperature(°C)\n");
    for i in 0..10 {
        let local = start + Duration::hours(9) + Duration::minutes(i);
        csv.push_str(&format!(
            "{},{:.1}\n",
            local.format("%Y-%m-%d %H:%M:%S"),
            4.0 + (i % 3) as f64
        ));
    }
    let r = s
        .clerk
        .send(
            awc::http::Method::POST,
            &format!("{base}/readings.csv"),
            Some("text/csv"),
            csv.into_bytes(),
            true,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["accepted"], 10);
    assert_eq!(r.json()["quarantine"], "none");

    // The same readings again as JSON: idempotent.
    let again = batch(
        "LG-7",
        start,
        &[4.0, 5.0, 6.0, 4.0, 5.0, 6.0, 4.0, 5.0, 6.0, 4.0],
    );
    let r = s.clerk.post_json(&format!("{base}/readings"), again).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (
            r.json()["accepted"].as_u64(),
            r.json()["duplicates"].as_u64()
        ),
        (Some(0), Some(10))
    );
    // Another logger, or a bad reading: the whole batch is refused.
    let r = s
        .clerk
        .post_json(&format!("{base}/readings"), batch("LG-8", now, &[5.0]))
        .await;
    assert_eq!(r.status, 422);
    let r = s
        .clerk
        .post_json(
            &format!("{base}/readings"),
            json!({"logger_serial": "LG-7", "readings": [{"at": rfc(now), "celsius": 5.0}, {"at": "yesterday", "celsius": 5.0}]}),
        )
        .await;
    assert_eq!(r.status, 422);

    // Ten minutes without a reading (interval 60 s): a gap, quarantine.
    let r = s
        .clerk
        .post_json(
            &format!("{base}/readings"),
            batch("LG-7", start + Duration::minutes(19), &[5.0, 5.0]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["quarantine"], "quarantined");
    assert!(r.json()["quarantine_reason"]
        .as_str()
        .unwrap()
        .contains("欠落"));
    let delayed = latest_notice(&s, "delivery_delayed");
    assert!(delayed.contains("遅れます"), "{delayed}");
    assert!(
        !delayed.contains("ロキソニン"),
        "no product details: {delayed}"
    );

    // Handover refused; a courier (and a clerk) cannot release the quarantine.
    let courier = s.app.signed_in("courier1", None).await;
    let code = shipped_code(&s);
    let handover = json!({"recipient": "patient", "code": code, "place": "玄関"});
    let r = courier
        .post_json(&format!("{base}/handover"), handover.clone())
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    let decide = format!("{base}/quarantine-decision");
    let release = json!({"decision": "use", "reason": "問題なし"});
    assert_eq!(
        courier.post_json(&decide, release.clone()).await.status,
        403
    );
    assert_eq!(
        s.clerk.post_json(&decide, release.clone()).await.status,
        403
    );
    assert!(s
        .app
        .audit("delivery.quarantine_decided")
        .iter()
        .all(|a| a.outcome == "denied"));
    assert_eq!(
        s.pharm
            .post_json(&decide, json!({"decision": "use", "reason": ""}))
            .await
            .status,
        422,
        "a reason is required"
    );
    let r = s
        .pharm
        .post_json(
            &decide,
            json!({"decision": "use", "reason": "欠落は通信不良、前後とも2-8℃"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["delivery"]["quarantine"], "use");

    // Later, 9.5 °C: an excursion quarantines again.
    s.app.advance(Duration::seconds(5));
    let later = s.app.clock.now().naive_utc();
    let r = s
        .clerk
        .post_json(
            &format!("{base}/readings"),
            batch("LG-7", later, &[7.5, 9.5, 9.0, 6.0]),
        )
        .await;
    assert_eq!(r.json()["quarantine"], "quarantined", "{}", r.text());
    let r = courier
        .post_json(&format!("{base}/handover"), handover.clone())
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("保留"));

    // The trip: per product, the excursion, the gap and the MKT.
    let t = s.clerk.get(&format!("{base}/temperatures")).await.json();
    let a = &t["products"][0]["analysis"];
    assert_eq!(t["products"][0]["label_range"], "2-8");
    assert_eq!(a["excursions"].as_array().unwrap().len(), 1, "{a}");
    assert_eq!(a["excursions"][0]["max"], 9.5);
    assert!(!a["gaps"].as_array().unwrap().is_empty(), "{a}");
    let mkt = a["mkt"].as_f64().unwrap();
    assert!(mkt > 4.0 && mkt < 9.5, "{mkt}");

    // The board lists it among the deliveries awaiting a decision.
    let q = s
        .pharm
        .get(&format!(
            "/api/v1/pharmacies/{}/deliveries?state=quarantined",
            s.pid
        ))
        .await
        .json();
    assert_eq!(q.as_array().unwrap().len(), 1);
    assert_eq!(q[0]["id"], id.as_str());
    // The console shows the chart and the decision form.
    let page = s.pharm.get(&format!("/p/{}/deliveries/{id}", s.pid)).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<svg") && page.text().contains("保留の判断"));

    let r = s
        .pharm
        .post_json(
            &decide,
            json!({"decision": "use", "reason": "短時間の逸脱、安定性データで確認"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = courier
        .post_json(&format!("{base}/handover"), handover)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[actix_web::test]
async fn a_returned_decision_brings_the_parcel_back_and_silence_is_a_gap() {
    let s = setup().await;
    let id = cold_delivery(&s).await;
    let base = format!("/api/v1/pharmacies/{}/deliveries/{id}", s.pid);
    // Readings that stopped long ago: the handover itself finds the gap.
    let old = s.app.clock.now().naive_utc() - Duration::minutes(40);
    let r = s
        .clerk
        .post_json(
            &format!("{base}/readings"),
            batch("LG-7", old, &[5.0, 5.0, 5.0]),
        )
        .await;
    assert_eq!(r.json()["quarantine"], "none", "{}", r.text());
    let courier = s.app.signed_in("courier1", None).await;
    let code = shipped_code(&s);
    let r = courier
        .post_json(
            &format!("{base}/handover"),
            json!({"recipient": "patient", "code": code, "place": "玄関"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    let d = s.clerk.get(&base).await.json();
    assert_eq!(d["delivery"]["quarantine"], "quarantined");
    let r = s
        .pharm
        .post_json(
            &format!("{base}/quarantine-decision"),
            json!({"decision": "destroy", "reason": "記録なし40分"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = courier
        .post_json(
            &format!("{base}/steps"),
            json!({"state": "returned_to_pharmacy", "place": "薬局", "note": "廃棄のため返送"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let timeline: Vec<String> = r.json()["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap().to_string())
        .collect();
    assert!(
        timeline.ends_with(&[
            "quarantined".into(),
            "quarantine_decided".into(),
            "returned_to_pharmacy".into()
        ]),
        "{timeline:?}"
    );
}
