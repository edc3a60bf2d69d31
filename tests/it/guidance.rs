//! Online guidance scheduling through the real app: hours, slots, booking under
//! contention, cancelling.

use chrono::{Datelike, Duration};
use pharmacy::clock::Clock;
use pharmacy::domain::role::Role;
use serde_json::json;

use crate::common::TestApp;

/// The next Monday (Japan time) at least two days ahead.
fn next_monday(app: &TestApp) -> chrono::NaiveDate {
    let mut d =
        pharmacy::context::jst(app.clock.now().naive_utc()).date_naive() + Duration::days(2);
    while d.weekday() != chrono::Weekday::Mon {
        d += Duration::days(1);
    }
    d
}

#[actix_web::test]
async fn twenty_concurrent_bookings_of_one_slot_give_exactly_one_session() {
    let app = TestApp::spawn().await;
    let pid = app.pharmacy("1341234567", "さくら薬局");
    let ph = app.user(&pid, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&ph);
    app.user(&pid, "clerk1", Role::Clerk);
    app.user(&pid, "courier1", Role::Courier);
    let patient = app.patient(&pid, "山田 太郎", "ヤマダ タロウ");
    let pharm = app.signed_in("pharm1", Some(&secret)).await;
    let api = format!("/api/v1/pharmacies/{pid}/guidance");

    // The pharmacist publishes Monday hours; bad ranges are refused.
    let r = pharm
        .put_json(
            &format!("{api}/pharmacists/{ph}/hours"),
            json!([{"weekday": 1, "start": "10:00", "end": "09:00"}]),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = pharm
        .put_json(
            &format!("{api}/pharmacists/{ph}/hours"),
            json!([{"weekday": 1, "start": "09:00", "end": "10:00"}]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let day = next_monday(&app);
    let slots = pharm
        .get(&format!("{api}/pharmacists/{ph}/slots?date={day}"))
        .await
        .json();
    let starts: Vec<&str> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap())
        .collect();
    assert_eq!(starts.len(), 3, "{slots}");
    assert!(starts[0].ends_with("09:00:00"));

    // Twenty clerks' clients book the 09:20 slot at once.
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(app.signed_in("clerk1", None).await);
    }
    let body = json!({"pharmacist_id": ph, "patient_id": patient, "start": format!("{day}T09:20")});
    let path = format!("{api}/sessions");
    let results =
        futures_util::future::join_all(clients.iter().map(|c| c.post_json(&path, body.clone())))
            .await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let session = results.iter().find(|r| r.status == 201).unwrap().json();

    // An overlapping start (09:25, inside the session) is refused too; the slot list
    // no longer offers 09:20, and 09:00 stays (its buffer ends at 09:20).
    let clerk = &clients[0];
    let r = clerk
        .post_json(
            &path,
            json!({"pharmacist_id": ph, "patient_id": patient, "start": format!("{day}T09:25")}),
        )
        .await;
    assert_eq!(r.status, 409);
    let slots = clerk
        .get(&format!("{api}/pharmacists/{ph}/slots?date={day}"))
        .await
        .json();
    let starts: Vec<String> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap()[11..16].to_string())
        .collect();
    assert_eq!(starts, ["09:00", "09:40"]);
    // Outside hours, in the past, an unknown patient: 422.
    for (start, who) in [
        (format!("{day}T11:00"), patient.clone()),
        ("2020-01-06T09:00".to_string(), patient.clone()),
        (format!("{day}T09:40"), "nobody".to_string()),
    ] {
        let r = clerk
            .post_json(
                &path,
                json!({"pharmacist_id": ph, "patient_id": who, "start": start}),
            )
            .await;
        assert_eq!(r.status, 422, "{start}: {}", r.text());
    }
    // Cancelling needs a reason and frees the slot.
    let sid = session["id"].as_str().unwrap();
    assert_eq!(
        clerk
            .post_json(&format!("{path}/{sid}/cancel"), json!({"reason": ""}))
            .await
            .status,
        422
    );
    let r = clerk
        .post_json(
            &format!("{path}/{sid}/cancel"),
            json!({"reason": "患者都合"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "cancelled");
    assert_eq!(
        clerk
            .post_json(&format!("{path}/{sid}/cancel"), json!({"reason": "again"}))
            .await
            .status,
        409
    );
    let r = clerk
        .post_json(
            &path,
            json!({"pharmacist_id": ph, "patient_id": patient, "start": format!("{day}T09:20")}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // A holiday closes the day.
    let r = pharm
        .post_json(
            &format!("{api}/pharmacists/{ph}/exceptions"),
            json!({"day": day.to_string(), "closed": true, "reason": "祝日"}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(clerk
        .get(&format!("{api}/pharmacists/{ph}/slots?date={day}"))
        .await
        .json()
        .as_array()
        .unwrap()
        .is_empty());
    // Couriers cannot book.
    let courier = app.signed_in("courier1", None).await;
    assert_eq!(courier.post_json(&path, body).await.status, 403);
    assert!(!app.audit("guidance.booked").is_empty());
}

fn count(app: &TestApp, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {sql}"))
        .get_result::<N>(&mut app.conn())
        .unwrap()
        .n
}

#[actix_web::test]
async fn reminders_are_sent_once_follow_moves_and_stop_on_cancel() {
    let app = TestApp::spawn().await;
    let pid = app.pharmacy("1341234567", "さくら薬局");
    let ph = app.user(&pid, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&ph);
    app.user(&pid, "clerk1", Role::Clerk);
    let patient = app.patient(&pid, "山田 太郎", "ヤマダ タロウ");
    let pharm = app.signed_in("pharm1", Some(&secret)).await;
    let api = format!("/api/v1/pharmacies/{pid}/guidance");
    let week: Vec<_> = (1..=7)
        .map(|d| json!({"weekday": d, "start": "09:00", "end": "10:00"}))
        .collect();
    assert_eq!(
        pharm
            .put_json(&format!("{api}/pharmacists/{ph}/hours"), json!(week))
            .await
            .status,
        204
    );
    let clerk = app.signed_in("clerk1", None).await;
    let today = pharmacy::context::jst(app.clock.now().naive_utc()).date_naive();
    let day = today + Duration::days(10);
    let r = clerk
        .post_json(
            &format!("{api}/sessions"),
            json!({"pharmacist_id": ph, "patient_id": patient, "start": format!("{day}T09:00")}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let sid = r.json()["id"].as_str().unwrap().to_string();
    // The confirmation carries an .ics; the patient has no e-mail here, so staff
    // see it as a notice to deliver by hand.
    assert_eq!(
        count(&app, "notifications WHERE kind = 'guidance_booked'"),
        1
    );
    assert_eq!(count(&app, "notification_attachments"), 1);
    // A second session, cancelled: none of its reminders may go out.
    let r = clerk
        .post_json(
            &format!("{api}/sessions"),
            json!({"pharmacist_id": ph, "patient_id": patient, "start": format!("{day}T09:40")}),
        )
        .await;
    let other = r.json()["id"].as_str().unwrap().to_string();
    let r = clerk
        .post_json(
            &format!("{api}/sessions/{other}/cancel"),
            json!({"reason": "患者都合"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        count(&app, "notifications WHERE kind = 'guidance_cancelled'"),
        1
    );
    // Moved a day later: reminders for the new time only.
    let new_day = day + Duration::days(1);
    let r = clerk
        .post_json(
            &format!("{api}/sessions/{sid}/move"),
            json!({"start": format!("{new_day}T09:20"), "reason": "薬剤師の都合"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        count(&app, "notifications WHERE kind = 'guidance_moved'"),
        1
    );
    assert_eq!(count(&app, "guidance_reminders"), 3);

    let sweep = |app: &TestApp| {
        pharmacy::guidance::notify::send_due_reminders(
            &mut app.conn(),
            app.clock.now(),
            &app.state.outbox,
        )
        .unwrap()
    };
    let reminders = |app: &TestApp| count(app, "notifications WHERE kind = 'guidance_reminder'");
    let start_utc = (new_day.and_hms_opt(9, 20, 0).unwrap() - Duration::hours(9)).and_utc();
    let to = |app: &TestApp, at: chrono::DateTime<chrono::Utc>| app.advance(at - app.clock.now());
    assert_eq!(sweep(&app), 0);
    // The old time's week-before moment passes: nothing.
    to(&app, start_utc - Duration::days(8) + Duration::minutes(1));
    assert_eq!(sweep(&app), 0);
    to(&app, start_utc - Duration::days(7) + Duration::minutes(1));
    assert_eq!(sweep(&app), 1);
    assert_eq!(sweep(&app), 0, "never twice");
    to(&app, start_utc - Duration::days(1) + Duration::minutes(1));
    assert_eq!(sweep(&app), 1);
    to(&app, start_utc - Duration::minutes(59));
    assert_eq!(sweep(&app), 1);
    to(&app, start_utc + Duration::hours(2));
    assert_eq!(sweep(&app), 0);
    assert_eq!(reminders(&app), 3);
    let body: String = {
        use diesel::prelude::*;
        use pharmacy::db::schema::notifications;
        notifications::table
            .filter(notifications::kind.eq("guidance_reminder"))
            .select(notifications::body_text)
            .first(&mut app.conn())
            .unwrap()
    };
    assert!(
        body.contains("本人確認書類") && body.contains("09:20"),
        "{body}"
    );
    assert!(!app.audit("guidance.reminder_sent").is_empty());
}

fn portal_path(app: &TestApp, kind: &str, nth: usize) -> String {
    use diesel::prelude::*;
    use pharmacy::db::schema::notifications;
    let bodies: Vec<String> = notifications::table
        .filter(notifications::kind.eq(kind))
        .order(notifications::id.asc())
        .select(notifications::body_text)
        .load(&mut app.conn())
        .unwrap();
    let body = &bodies[nth];
    body.match_indices("/portal/")
        .map(|(at, _)| body[at..].split_whitespace().next().unwrap().to_string())
        .find(|l| !l.contains("connection-test"))
        .expect("portal link in the notice")
}

#[actix_web::test]
async fn patient_links_act_once_and_refuse_altered_expired_or_reused() {
    let app = TestApp::spawn().await;
    let pid = app.pharmacy("1341234567", "さくら薬局");
    let ph = app.user(&pid, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&ph);
    app.user(&pid, "clerk1", Role::Clerk);
    let patient = app.patient(&pid, "山田 太郎", "ヤマダ タロウ");
    let pharm = app.signed_in("pharm1", Some(&secret)).await;
    let api = format!("/api/v1/pharmacies/{pid}/guidance");
    let week: Vec<_> = (1..=7)
        .map(|d| json!({"weekday": d, "start": "09:00", "end": "10:00"}))
        .collect();
    pharm
        .put_json(&format!("{api}/pharmacists/{ph}/hours"), json!(week))
        .await;
    let clerk = app.signed_in("clerk1", None).await;
    let day = pharmacy::context::jst(app.clock.now().naive_utc()).date_naive() + Duration::days(3);
    let book = |start: String| {
        let c = &clerk;
        let path = format!("{api}/sessions");
        let body = json!({"pharmacist_id": ph, "patient_id": patient, "start": start});
        async move { c.post_json(&path, body).await }
    };
    let r = book(format!("{day}T09:00")).await;
    assert_eq!(r.status, 201);
    let link = portal_path(&app, "guidance_booked", 0);

    let patient_browser = app.client();
    let page = patient_browser.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("山田") && page.text().contains("09:00"),
        "{}",
        page.text()
    );
    // Altered: refused.
    let mut altered = link.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(patient_browser.get(&altered).await.status, 403);
    // Confirm once; the same link is then used up.
    let token = crate::common::form_token(&page.text());
    let r = patient_browser
        .post_form(&link, &[("csrf_token", &token), ("action", "confirm")])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("確認しました"));
    let r = patient_browser
        .post_form(&link, &[("csrf_token", &token), ("action", "cancel")])
        .await;
    assert_eq!(r.status, 409, "reused link");
    assert_eq!(patient_browser.get(&link).await.status, 409);
    assert!(!app.audit("portal.confirmed").is_empty());

    // A moved session's notice carries a fresh link; the patient cancels with it.
    let session: String = {
        use diesel::prelude::*;
        use pharmacy::db::schema::guidance_sessions;
        guidance_sessions::table
            .select(guidance_sessions::id)
            .first(&mut app.conn())
            .unwrap()
    };
    let r = clerk
        .post_json(
            &format!("{api}/sessions/{session}/move"),
            json!({"start": format!("{day}T09:40"), "reason": "変更"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let moved_link = portal_path(&app, "guidance_moved", 0);
    let page = patient_browser.get(&moved_link).await;
    assert_eq!(page.status, 200);
    let r = patient_browser
        .post_form(
            &moved_link,
            &[
                ("csrf_token", &crate::common::form_token(&page.text())),
                ("action", "cancel"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("取消済み"));
    assert_eq!(
        count(&app, "notifications WHERE kind = 'guidance_cancelled'"),
        1
    );

    // Expired: a day after the session the link no longer opens.
    let r = book(format!("{day}T09:20")).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let link = portal_path(&app, "guidance_booked", 1);
    assert_eq!(patient_browser.get(&link).await.status, 200);
    app.advance(Duration::days(5));
    assert_eq!(patient_browser.get(&link).await.status, 403);
}

#[actix_web::test]
async fn pharmacy_settings_set_slot_length_buffer_and_qualification_url() {
    let app = TestApp::spawn().await;
    let pid = app.pharmacy("1341234567", "さくら薬局");
    let admin = app.user(&pid, "admin1", Role::Admin);
    let admin_secret = app.enable_totp(&admin);
    let ph = app.user(&pid, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&ph);
    app.user(&pid, "clerk1", Role::Clerk);
    let patient = app.patient(&pid, "山田 太郎", "ヤマダ タロウ");
    let a = app.signed_in("admin1", Some(&admin_secret)).await;
    let api = format!("/api/v1/pharmacies/{pid}/guidance");
    let url = "https://myna.example.jp/zaitaku/1341234567";
    for bad in [
        json!({"slot_minutes": 7, "buffer_minutes": 0, "qualification_url": url}),
        json!({"slot_minutes": 30, "buffer_minutes": 0, "qualification_url": "http://plain.example"}),
    ] {
        assert_eq!(
            a.put_json(&format!("{api}/settings"), bad).await.status,
            422
        );
    }
    let clerk = app.signed_in("clerk1", None).await;
    let good = json!({"slot_minutes": 30, "buffer_minutes": 0, "qualification_url": url});
    assert_eq!(
        clerk
            .put_json(&format!("{api}/settings"), good.clone())
            .await
            .status,
        403
    );
    let r = a.put_json(&format!("{api}/settings"), good).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let pharm = app.signed_in("pharm1", Some(&secret)).await;
    pharm
        .put_json(
            &format!("{api}/pharmacists/{ph}/hours"),
            json!([{"weekday": 1, "start": "09:00", "end": "10:00"}]),
        )
        .await;
    let day = next_monday(&app);
    let slots = clerk
        .get(&format!("{api}/pharmacists/{ph}/slots?date={day}"))
        .await
        .json();
    let starts: Vec<String> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap()[11..16].to_string())
        .collect();
    assert_eq!(starts, ["09:00", "09:30"]);
    let r = clerk
        .post_json(
            &format!("{api}/sessions"),
            json!({"pharmacist_id": ph, "patient_id": patient, "start": format!("{day}T09:30")}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body: String = {
        use diesel::prelude::*;
        use pharmacy::db::schema::notifications;
        notifications::table
            .filter(notifications::kind.eq("guidance_booked"))
            .select(notifications::body_text)
            .first(&mut app.conn())
            .unwrap()
    };
    assert!(body.contains(url), "{body}");
}

#[actix_web::test]
async fn eligibility_requests_are_refused_without_a_national_services_terminal() {
    let app = TestApp::spawn().await;
    let pid = app.pharmacy("1341234567", "さくら薬局");
    app.user(&pid, "clerk1", Role::Clerk);
    let clerk = app.signed_in("clerk1", None).await;
    let r = clerk
        .post_json(
            &format!("/api/v1/pharmacies/{pid}/guidance/eligibility"),
            json!({"consent_date": "2026-11-21", "visit_date": "2026-11-25"}),
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.text());
    let list = clerk
        .get(&format!("/api/v1/pharmacies/{pid}/guidance/eligibility"))
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 0, "nothing queued");
}
