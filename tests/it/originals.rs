//! Copy-based prescriptions and their originals: transcription, checks and
//! dispensing, reconciliation with the original, the narcotic handover rule,
//! validity, the 2D symbol and the overdue sweep, through the real app.

use awc::http::Method;
use chrono::Duration;
use diesel::prelude::*;
use pharmacy::clock::Clock;
use serde_json::json;

use crate::common::form_token;
use crate::copies::{
    copy_from_upload, count, dispensed_copy, original_fields, setup, symbol, today, transcription,
    Setup, AMLODIN, LOXONIN, OXYCONTIN,
};
#[actix_web::test]
async fn transcribed_copy_is_checked_dispensed_and_reconciled_with_its_original() {
    let s = setup().await;
    let api = format!("/api/v1/pharmacies/{}", s.pid);
    let copy = copy_from_upload(&s, &s.clinic).await;
    // Clerks cannot transcribe; a missing mark is a warning, not an error.
    let body = transcription(&s, today(&s.app), AMLODIN, "");
    assert_eq!(
        s.clerk
            .post_json(&format!("{api}/copies/{copy}/transcribe"), body.clone())
            .await
            .status,
        403
    );
    let r = s
        .pharm
        .post_json(&format!("{api}/copies/{copy}/transcribe"), body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let t = r.json();
    assert!(t["warnings"][0]
        .as_str()
        .unwrap()
        .contains("オンライン対応"));
    let p = &t["prescription"];
    assert_eq!(p["source"], "fax_copy");
    assert_eq!(p["copy"]["online_marked"], false);
    assert_eq!(p["copy"]["original_state"], "awaiting");
    assert_eq!(p["copy"]["clinic_id"], s.clinic.as_str());
    assert_eq!(p["items"][0]["drug_name"], "アムロジン錠5mg");
    let id = p["id"].as_str().unwrap().to_string();

    // Patient data in the comparison comes from the chosen patient.
    let r = s
        .pharm
        .post_json(&format!("{api}/prescriptions/{id}/dispense"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert_eq!(
        p["copy"]["due_on"],
        (today(&s.app) + Duration::days(7)).to_string()
    );
    assert_eq!(
        p["copy"]["retain_until"].as_str().unwrap()[..4],
        (today(&s.app)
            .format("%Y")
            .to_string()
            .parse::<i32>()
            .unwrap()
            + 3)
        .to_string()
    );
    // The original matches exactly (typed with other spacing) → reconciled at once.
    let mut fields = original_fields(&p["copy"]["copy_fields"], "１錠");
    fields["patient_name"] = json!("山田 太郎");
    let r = s
        .clerk
        .post_json(
            &format!("{api}/prescriptions/{id}/original"),
            json!({"fields": fields, "storage_place": "箱A-12"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["original_state"], "reconciled", "{v}");
    assert!(v["discrepancies"].as_array().unwrap().is_empty());
    assert_eq!(v["storage_place"], "箱A-12");
    // Registering twice is refused.
    let r = s
        .clerk
        .post_json(
            &format!("{api}/prescriptions/{id}/original"),
            json!({"fields": fields}),
        )
        .await;
    assert_eq!(r.status, 409);

    // Another copy whose original has a changed dose: a discrepancy that blocks
    // reconciliation until a pharmacist resolves it.
    let id2 = dispensed_copy(&s, &s.clinic, LOXONIN).await;
    let p2 = s
        .pharm
        .get(&format!("{api}/prescriptions/{id2}"))
        .await
        .json();
    let fields = original_fields(&p2["copy"]["copy_fields"], "2錠");
    let r = s
        .clerk
        .post_json(
            &format!("{api}/prescriptions/{id2}/original"),
            json!({"fields": fields}),
        )
        .await;
    let v = r.json();
    assert_eq!(v["original_state"], "discrepancies", "{v}");
    let d = v["discrepancies"].as_array().unwrap();
    assert_eq!(d.len(), 1, "{v}");
    assert_eq!(d[0]["field"], "items[0].dose");
    assert_eq!(
        (d[0]["copy_value"].as_str(), d[0]["original_value"].as_str()),
        (Some("1錠"), Some("2錠"))
    );
    let did = d[0]["id"].as_str().unwrap();
    let list = s.clerk.get(&format!("{api}/originals")).await.json();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["prescription_id"] == id2.as_str() && o["original_state"] == "discrepancies"));
    let resolve = format!("{api}/prescriptions/{id2}/original/discrepancies/{did}/resolve");
    assert_eq!(
        s.clerk
            .post_json(&resolve, json!({"what_changed": "x"}))
            .await
            .status,
        403
    );
    assert_eq!(
        s.pharm
            .post_json(&resolve, json!({"what_changed": " "}))
            .await
            .status,
        422
    );
    let r = s
        .pharm
        .post_json(
            &resolve,
            json!({"clinic_contacted": true, "what_changed": "医師に確認: 原本の2錠が正しい。患者に連絡し追加交付", "patient_contact_needed": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["original_state"], "reconciled");
    assert_eq!(r.json()["discrepancies"][0]["patient_contact_needed"], true);
    assert!(!s.app.audit("original.discrepancy_resolved").is_empty());
    assert!(!s
        .clerk
        .get(&format!("{api}/originals"))
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["prescription_id"] == id2.as_str()));
    // Non-narcotic: the handover is allowed before the original too.
    let id3 = dispensed_copy(&s, &s.clinic, OXYCONTIN).await;
    let r = s
        .pharm
        .post_json(&format!("{api}/prescriptions/{id3}/handover"), json!({}))
        .await;
    assert_eq!(r.status, 409, "a narcotic waits for its original");
    let id3 = {
        let copy = copy_from_upload(&s, &s.clinic).await;
        let mut body = transcription(&s, today(&s.app), "2649735S3020", "オンライン対応");
        body["items"][0]["dose"] = json!("1枚");
        let r = s
            .pharm
            .post_json(&format!("{api}/copies/{copy}/transcribe"), body)
            .await;
        let id = r.json()["prescription"]["id"].as_str().unwrap().to_string();
        assert_eq!(
            s.pharm
                .post_json(&format!("{api}/prescriptions/{id}/dispense"), json!({}))
                .await
                .status,
            200
        );
        id
    };
    let r = s
        .pharm
        .post_json(&format!("{api}/prescriptions/{id3}/handover"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["handed_over_at"].is_string());
    assert_eq!(
        s.pharm
            .post_json(&format!("{api}/prescriptions/{id3}/handover"), json!({}))
            .await
            .status,
        409
    );
}

#[actix_web::test]
async fn narcotic_copy_cannot_be_handed_over_before_its_original() {
    let s = setup().await;
    let api = format!("/api/v1/pharmacies/{}", s.pid);
    let id = dispensed_copy(&s, &s.clinic, OXYCONTIN).await;
    let p = s
        .pharm
        .get(&format!("{api}/prescriptions/{id}"))
        .await
        .json();
    assert_eq!(p["copy"]["narcotic"], true);
    assert!(p["handover_blockers"][0].as_str().unwrap().contains("原本"));
    let r = s
        .pharm
        .post_json(&format!("{api}/prescriptions/{id}/handover"), json!({}))
        .await;
    assert_eq!(r.status, 409);
    assert!(
        r.text().contains("原本を受領するまで交付できません"),
        "{}",
        r.text()
    );
    assert!(s
        .app
        .audit("prescription.handed_over")
        .iter()
        .any(|a| a.outcome == "denied"));
    // The console shows the block and disables the button.
    let page = s
        .pharm
        .get(&format!("/p/{}/prescriptions/{id}", s.pid))
        .await
        .text();
    assert!(page.contains("交付保留"));
    // Once the original is in (and matches), the handover goes through.
    let fields = original_fields(&p["copy"]["copy_fields"], "1錠");
    let r = s
        .clerk
        .post_json(
            &format!("{api}/prescriptions/{id}/original"),
            json!({"fields": fields}),
        )
        .await;
    assert_eq!(r.json()["original_state"], "reconciled", "{}", r.text());
    let r = s
        .pharm
        .post_json(&format!("{api}/prescriptions/{id}/handover"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[actix_web::test]
async fn an_expired_copy_cannot_be_dispensed() {
    let s = setup().await;
    let api = format!("/api/v1/pharmacies/{}", s.pid);
    let copy = copy_from_upload(&s, &s.clinic).await;
    let r = s
        .pharm
        .post_json(
            &format!("{api}/copies/{copy}/transcribe"),
            transcription(
                &s,
                today(&s.app) - Duration::days(4),
                AMLODIN,
                "オンライン対応",
            ),
        )
        .await;
    assert_eq!(r.status, 201);
    let p = r.json()["prescription"].clone();
    assert!(p["blockers"][0].as_str().unwrap().contains("使用期限"));
    let id = p["id"].as_str().unwrap();
    let r = s
        .pharm
        .post_json(&format!("{api}/prescriptions/{id}/dispense"), json!({}))
        .await;
    assert_eq!(r.status, 409);
    assert!(r.text().contains("使用期限"));
    // Day 4 including the issue date is still valid.
    let copy = copy_from_upload(&s, &s.clinic).await;
    let r = s
        .pharm
        .post_json(
            &format!("{api}/copies/{copy}/transcribe"),
            transcription(
                &s,
                today(&s.app) - Duration::days(3),
                AMLODIN,
                "オンライン対応",
            ),
        )
        .await;
    let id = r.json()["prescription"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.pharm
            .post_json(&format!("{api}/prescriptions/{id}/dispense"), json!({}))
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn the_2d_symbol_fills_the_form_and_registers_the_original() {
    let s = setup().await;
    let api = format!("/api/v1/pharmacies/{}", s.pid);
    let symbol = symbol(&s.app);
    let r = s
        .pharm
        .post_json("/api/v1/copies/symbol", json!({"text": symbol}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["institution_name"], "新宿内科クリニック");
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        s.pharm
            .post_json("/api/v1/copies/symbol", json!({"text": "1,x"}))
            .await
            .status,
        422
    );

    let copy = copy_from_upload(&s, &s.clinic).await;
    let mut form = r.json();
    form["symbol"] = json!(symbol);
    let r = s
        .pharm
        .post_json(&format!("{api}/copies/{copy}/transcribe"), form)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let p = r.json()["prescription"].clone();
    assert_eq!(p["copy"]["online_marked"], true);
    // Products not in the master: the narcotic status is unknown, so the handover
    // waits for the original (fail closed).
    assert_eq!(p["copy"]["narcotic"], true);
    assert_eq!(p["copy"]["copy_fields"]["patient_name"], "山田 太郎");
    let id = p["id"].as_str().unwrap().to_string();
    // The original's symbol is the same → reconciled without typing anything.
    let r = s
        .clerk
        .post_json(
            &format!("{api}/prescriptions/{id}/original"),
            json!({"symbol": symbol}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["original_state"], "reconciled");
}

#[actix_web::test]
async fn overdue_originals_make_one_task_each_and_one_request_per_clinic_per_day() {
    let s = setup().await;
    let a1 = dispensed_copy(&s, &s.clinic, AMLODIN).await;
    let a2 = dispensed_copy(&s, &s.clinic, LOXONIN).await;
    let b1 = dispensed_copy(&s, &s.other_clinic, OXYCONTIN).await;
    let policy = s.app.state.settings.raw.copies.original_policy();
    let sweep = |s: &Setup| {
        pharmacy::copies::overdue::sweep(
            &mut s.app.conn(),
            s.app.clock.now(),
            &s.app.state.outbox,
            &policy,
        )
        .unwrap()
    };
    let requests = |s: &Setup| count(&s.app, "notifications WHERE kind = 'original_request'");
    // Not yet due on day 7.
    s.app.advance(Duration::days(7));
    assert_eq!(sweep(&s).requests, 0);
    assert_eq!(requests(&s), 0);
    // Day 8: overdue → three tasks, one request per clinic.
    s.app.advance(Duration::days(1));
    let r = sweep(&s);
    assert_eq!((r.overdue, r.tasks_created, r.requests), (3, 3, 2), "{r:?}");
    assert_eq!(requests(&s), 2);
    let again = sweep(&s);
    assert_eq!((again.tasks_created, again.requests), (0, 0));
    assert_eq!(requests(&s), 2);
    // The request lists initials and issue dates, nothing more.
    let body: String = {
        use pharmacy::db::schema::notifications;
        notifications::table
            .filter(notifications::kind.eq("original_request"))
            .filter(notifications::recipient_id.eq(&s.clinic))
            .select(notifications::body_text)
            .first(&mut s.app.conn())
            .unwrap()
    };
    assert_eq!(body.matches("Y.T. 様").count(), 2, "{body}");
    assert!(
        !body.contains("山田") && !body.contains("アムロジン") && !body.contains("ロキソニン"),
        "{body}"
    );
    // Sessions do not survive the days the clock moved: sign in again.
    let clerk = s.app.signed_in("clerk1", None).await;
    let tasks = clerk
        .get(&format!("/api/v1/pharmacies/{}/tasks", s.pid))
        .await
        .json();
    assert_eq!(tasks.as_array().unwrap().len(), 3, "{tasks}");
    assert!(tasks
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["urgent"] == false));
    // The next day nothing new; a week later the clinic is asked again, once.
    s.app.advance(Duration::days(1));
    assert_eq!(sweep(&s).requests, 0);
    // Day 15: escalated → urgent tasks, and the clinics are asked again.
    s.app.advance(Duration::days(6));
    let r = sweep(&s);
    assert_eq!((r.escalated, r.requests), (3, 2), "{r:?}");
    assert_eq!(sweep(&s).requests, 0);
    assert_eq!(requests(&s), 4);
    let clerk = s.app.signed_in("clerk1", None).await;
    let tasks = clerk
        .get(&format!("/api/v1/pharmacies/{}/tasks", s.pid))
        .await
        .json();
    assert!(tasks
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["urgent"] == true));
    // The original of a1 arrives: its task closes; the list still shows the others.
    let p = clerk
        .get(&format!("/api/v1/pharmacies/{}/prescriptions/{a1}", s.pid))
        .await
        .json();
    assert_eq!(p["copy"]["overdue"], "escalated");
    let r = clerk
        .post_json(
            &format!("/api/v1/pharmacies/{}/prescriptions/{a1}/original", s.pid),
            json!({"fields": p["copy"]["copy_fields"]}),
        )
        .await;
    assert_eq!(r.json()["original_state"], "reconciled", "{}", r.text());
    let tasks = clerk
        .get(&format!("/api/v1/pharmacies/{}/tasks", s.pid))
        .await
        .json();
    assert_eq!(tasks.as_array().unwrap().len(), 2);
    let list = clerk
        .get(&format!("/api/v1/pharmacies/{}/originals", s.pid))
        .await
        .json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["prescription_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&a2.as_str()) && ids.contains(&b1.as_str()) && !ids.contains(&a1.as_str())
    );
    // The console list highlights them.
    let page = clerk.get(&format!("/p/{}/originals", s.pid)).await.text();
    assert!(page.contains("至急"));
}

#[actix_web::test]
async fn console_upload_view_transcribe_and_reconcile() {
    let s = setup().await;
    let pid = &s.pid;
    // Multipart upload with the CSRF token in the form's action URL.
    let page = s.pharm.get(&format!("/p/{pid}/copies")).await.text();
    let token = form_token(&page);
    let boundary = "XBOUNDARYX";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"clinic_id\"\r\n\r\n{}\r\n",
            s.clinic
        )
        .as_bytes(),
    );
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fax.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend_from_slice(b"\x89PNG\r\n\x1a\nfakepng");
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    // Without the token: refused.
    s.pharm.forget_csrf();
    let r = s
        .pharm
        .send(
            Method::POST,
            &format!("/p/{pid}/copies/upload"),
            Some(&ct),
            body.clone(),
            false,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = s
        .pharm
        .send(
            Method::POST,
            &format!("/p/{pid}/copies/upload?csrf_token={token}"),
            Some(&ct),
            body,
            false,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let loc = r.header("location").unwrap();
    let page = s.pharm.get(&loc).await.text();
    assert!(page.contains("<img src=\"") && page.contains("/files/0"));
    // The symbol button fills the form, keeping what was typed.
    let symbol = symbol(&s.app);
    let r = s
        .pharm
        .post_form(
            &format!("{loc}/transcribe"),
            &[
                ("csrf_token", &token),
                ("action", "symbol"),
                ("symbol", &symbol),
                ("patient_id", &s.patient),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("value=\"新宿内科クリニック\"") && html.contains(&s.patient));
    // Save with typed fields.
    let today = today(&s.app).to_string();
    let r = s
        .pharm
        .post_form(
            &format!("{loc}/transcribe"),
            &[
                ("csrf_token", &token),
                ("action", "save"),
                ("patient_id", &s.patient),
                ("institution_name", "新宿内科クリニック"),
                ("prescriber_name", "内科 一郎"),
                ("issue_date", &today),
                ("remarks", "オンライン対応"),
                ("rp_0", "1"),
                ("code_0", AMLODIN),
                ("dose_0", "1錠"),
                ("usage_0", "1日1回朝食後"),
                ("days_0", "14"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let rx = r.header("location").unwrap();
    let page = s.pharm.get(&rx).await.text();
    assert!(page.contains("写し（FAX）と原本") && page.contains("原本待ち"));
    // The reconciliation screen registers a typed original with a difference.
    let r = s
        .clerk
        .post_form(
            &format!("{rx}/original"),
            &[
                (
                    "csrf_token",
                    &form_token(&s.clerk.get(&format!("{rx}/original")).await.text()),
                ),
                ("patient_name", "山田 太郎"),
                ("issue_date", &today),
                ("code_0", AMLODIN),
                ("dose_0", "1錠"),
                ("usage_0", "1日1回朝食後"),
                ("days_0", "28"),
                ("storage_place", "箱B"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let page = s.clerk.get(&format!("{rx}/original")).await.text();
    assert!(page.contains("原本受領・相違あり") && page.contains("薬品1 日数"));
}
