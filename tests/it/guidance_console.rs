//! The guidance console pages through the real app: settings with the QR code and
//! hours, booking from the booking screen, the day view, and holding a session and
//! signing its record on the session screen.

use chrono::Duration;
use serde_json::json;

use crate::common::form_token;
use crate::guidance_records::{setup, VERSION};

#[actix_web::test]
async fn staff_book_hold_and_record_a_session_in_the_console() {
    let s = setup().await;
    let (pid, pharm) = (&s.pid, &s.pharm);
    pharmacy::guidance::set_settings(
        &mut s.app.conn(),
        &s.app.operator(),
        pid,
        &pharmacy::guidance::SettingsInput {
            slot_minutes: 15,
            buffer_minutes: 5,
            qualification_url: "https://myna.example.jp/zaitaku/1341234567".into(),
        },
    )
    .unwrap();

    // Settings: the QR code of the マイナ在宅受付Web URL and the hours as text.
    let page = pharm.get(&format!("/p/{pid}/guidance/settings")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("<svg") && html.contains("1 09:00-11:00"),
        "{html}"
    );
    let token = form_token(&html);
    let r = pharm
        .post_form(
            &format!("/p/{pid}/guidance/settings"),
            &[
                ("csrf_token", &token),
                ("action", "hours"),
                ("user_id", &s.ph),
                ("hours", "1 9時から"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("曜日番号"), "the bad line is named");

    // The booking screen lists free slots and books one.
    let day = s.today() + Duration::days(2);
    let page = pharm
        .get(&format!(
            "/p/{pid}/guidance/new?patient={}&pharmacist={}&date={day}",
            s.patient, s.ph
        ))
        .await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(&format!("{day}T09:20")), "{html}");
    let r = pharm
        .post_form(
            &format!("/p/{pid}/guidance/sessions"),
            &[
                ("csrf_token", &token),
                ("patient_id", &s.patient),
                ("pharmacist_id", &s.ph),
                ("date", &day.to_string()),
                ("start", &format!("{day}T09:20")),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let session_url = r.header("location").unwrap();
    // Booking the same slot again shows the refusal on the page.
    let r = pharm
        .post_form(
            &format!("/p/{pid}/guidance/sessions"),
            &[
                ("csrf_token", &token),
                ("patient_id", &s.patient),
                ("pharmacist_id", &s.ph),
                ("date", &day.to_string()),
                ("start", &format!("{day}T09:20")),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("予約済み"));

    // The day view lists it; the consent is still missing.
    let html = pharm
        .get(&format!("/p/{pid}/guidance?date={day}"))
        .await
        .text();
    assert!(
        html.contains("山田") && html.contains("<strong>なし</strong>"),
        "{html}"
    );

    // Session screen: consent, start, finish, record.
    let post = |action: &'static str, pairs: Vec<(&'static str, String)>| {
        let url = format!("{session_url}/{action}");
        let token = token.clone();
        async move {
            let mut all = vec![("csrf_token", token)];
            all.extend(pairs);
            let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            pharm.post_form(&url, &refs).await
        }
    };
    let r = post(
        "start",
        vec![
            ("identity_check", "passport".into()),
            ("meeting_url", "https://meet.example.jp/x".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("同意が記録されていません"),
        "{}",
        r.text()
    );
    let r = post(
        "consent",
        vec![
            ("patient_id", s.patient.clone()),
            ("text_version", VERSION.into()),
            ("explanation_shown", "on".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let r = post(
        "start",
        vec![
            ("identity_check", "passport".into()),
            ("meeting_url", "https://meet.example.jp/x".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let r = post(
        "finish",
        vec![("outcome", "completed".into()), ("fallback", String::new())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let record = vec![
        ("subjective", "特になし".to_string()),
        ("assessment", "問題なし".into()),
        ("plan", "継続".into()),
        ("topics", "用法・用量\n副作用".into()),
        ("adherence", "good".into()),
        ("leftover", "なし".into()),
    ];
    let r = post("record", record.clone()).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let r = post("record", record).await;
    assert_eq!(r.status, 200, "a second version needs its reason");
    assert!(r.text().contains("correction_reason"));
    let html = pharm.get(&session_url).await.text();
    assert!(html.contains("第1版") && !html.contains("第2版"), "{html}");
    // The API shows the same.
    let detail = pharm
        .get(&format!(
            "/api/v1/pharmacies/{pid}/guidance/sessions/{}",
            session_url.rsplit('/').next().unwrap()
        ))
        .await
        .json();
    assert_eq!(detail["session"]["outcome"], "completed");
    assert_eq!(detail["records"][0]["topics"], "用法・用量\n副作用");
    let _ = json!({});
}
