//! The notices outbox against a real SMTP server process.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration as StdDuration;

use chrono::Duration;
use diesel::prelude::*;
use pharmacy::db::schema::notifications as n;
use pharmacy::db::write_transaction;
use pharmacy::domain::role::Role;
use pharmacy::notices::templates::{NewAttachment, Rendered};
use pharmacy::notices::{self, RecipientRef};
use serde_json::json;

use crate::common::{Options, TestApp};
use crate::smtp::{free_port, SmtpServer};

async fn app_with(server: &SmtpServer) -> TestApp {
    TestApp::spawn_with(Options {
        env: server.env(),
        ..Options::default()
    })
    .await
}

fn japanese_notice() -> Rendered {
    Rendered {
        kind: "test",
        template: "email/test",
        subject: "【さくら薬局】ご予約のお知らせ（１２月１日 午前１０時３０分）".into(),
        text: "山田 太郎 様\n\nオンライン服薬指導のご予約を承りました。\n日時: 2026年12月1日（火）10:30〜10:45\n\n〜ご不明な点はお電話ください〜\n".into(),
        html: "<p>山田 太郎 様</p><p>オンライン服薬指導のご予約を承りました。</p>".into(),
        attachments: vec![NewAttachment {
            filename: "予約.ics".into(),
            content_type: "text/calendar; charset=utf-8; method=REQUEST".into(),
            content: "BEGIN:VCALENDAR\r\nSUMMARY:オンライン服薬指導\r\nEND:VCALENDAR\r\n".as_bytes().to_vec(),
        }],
    }
}

fn enqueue_to(app: &TestApp, pharmacy: &str, to: &str) -> pharmacy::notices::Notification {
    notices::enqueue(
        &mut app.conn(),
        &app.operator(),
        &app.state.outbox,
        pharmacy,
        RecipientRef::Address(to.into()),
        japanese_notice(),
        &[],
    )
    .unwrap()
}

fn status_of(app: &TestApp, pharmacy: &str, id: &str) -> (String, i32, i32) {
    n::table
        .find((pharmacy, id))
        .select((n::status, n::attempts, n::send_count))
        .first(&mut app.conn())
        .unwrap()
}

#[actix_web::test]
async fn japanese_subject_body_and_calendar_survive_the_round_trip() {
    let server = SmtpServer::start();
    let app = app_with(&server).await;
    let p = app.pharmacy("1341234567", "本店");
    let sent = enqueue_to(&app, &p, "taro@example.jp");
    assert_eq!(app.worker().run_until_idle().unwrap(), 1);
    let got = server.wait_for(1, StdDuration::from_secs(10));
    assert_eq!(got.len(), 1);
    let m = &got[0];
    let original = japanese_notice();
    assert_eq!(m["message_id"], sent.message_id);
    assert_eq!(m["subject"], original.subject);
    assert_eq!(
        m["text"].as_str().unwrap().replace("\r\n", "\n"),
        original.text
    );
    assert_eq!(m["html"].as_str().unwrap().trim_end(), original.html);
    assert_eq!(m["auto_submitted"], "auto-generated");
    assert_eq!(m["attachments"][0]["filename"], "予約.ics");
    assert_eq!(m["attachments"][0]["content_type"], "text/calendar");
    use base64::Engine;
    let ics = base64::engine::general_purpose::STANDARD
        .decode(m["attachments"][0]["content_b64"].as_str().unwrap())
        .unwrap();
    assert_eq!(ics, original.attachments[0].content);
    assert_eq!(status_of(&app, &p, &sent.id), ("sent".into(), 1, 1));
    assert_eq!(app.audit("notice.sent").len(), 1);
    // The raw message on the wire is 7-bit: the Japanese was encoded.
    let raw: Vec<_> = std::fs::read_dir(server.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .collect();
    let bytes = std::fs::read(raw[0].path()).unwrap();
    assert!(bytes.is_ascii());
}

#[actix_web::test]
async fn a_notice_enqueued_in_a_rolled_back_transaction_is_never_sent() {
    let server = SmtpServer::start();
    let app = app_with(&server).await;
    let p = app.pharmacy("1341234567", "本店");
    let ctx = app.operator();
    let result: Result<(), pharmacy::notices::NoticeError> =
        write_transaction(&mut app.conn(), |c| {
            notices::enqueue(
                c,
                &ctx,
                &app.state.outbox,
                &p,
                RecipientRef::Address("taro@example.jp".into()),
                japanese_notice(),
                &[],
            )?;
            // The business change fails after the notice was queued.
            Err(pharmacy::notices::NoticeError::NotFound)
        });
    assert!(result.is_err());
    assert_eq!(app.worker().run_until_idle().unwrap(), 0);
    let count: i64 = n::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 0);
    std::thread::sleep(StdDuration::from_millis(300));
    assert!(server.messages().is_empty());
    assert!(app.audit("notice.enqueued").is_empty());
}

#[actix_web::test]
async fn smtp_down_while_200_are_queued_then_all_arrive_exactly_once() {
    let mut server = SmtpServer::stopped(free_port());
    let app = app_with(&server).await;
    let p = app.pharmacy("1341234567", "本店");
    let queued: Vec<_> = (0..200)
        .map(|i| enqueue_to(&app, &p, &format!("patient{i}@example.jp")))
        .collect();
    // Server down: every attempt fails temporarily and is rescheduled.
    assert_eq!(app.worker().run_until_idle().unwrap(), 200);
    let pending: i64 = n::table
        .filter(n::status.eq("pending"))
        .filter(n::next_attempt_at.is_not_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(pending, 200);
    // Nothing is due before the backoff.
    assert_eq!(app.worker().run_until_idle().unwrap(), 0);

    server.resume();
    app.advance(Duration::minutes(31));
    assert_eq!(app.worker().run_until_idle().unwrap(), 200);
    let got = server.wait_for(200, StdDuration::from_secs(30));
    let ids: BTreeMap<String, usize> = got.iter().fold(BTreeMap::new(), |mut m, v| {
        *m.entry(v["message_id"].as_str().unwrap().to_string())
            .or_default() += 1;
        m
    });
    let expected: BTreeSet<String> = queued.iter().map(|q| q.message_id.clone()).collect();
    assert_eq!(ids.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(ids.values().all(|&c| c == 1), "each exactly once");
    for q in &queued {
        assert_eq!(status_of(&app, &p, &q.id), ("sent".into(), 2, 1));
    }
}

#[actix_web::test]
async fn a_550_fails_at_once_and_a_451_is_retried() {
    let server = SmtpServer::start();
    let app = app_with(&server).await;
    let p = app.pharmacy("1341234567", "本店");
    let rejected = enqueue_to(&app, &p, "reject@example.jp");
    let deferred = enqueue_to(&app, &p, "tempfail-once@example.jp");
    app.worker().run_until_idle().unwrap();

    let (status, attempts, _) = status_of(&app, &p, &rejected.id);
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    let (status, attempts, _) = status_of(&app, &p, &deferred.id);
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    let d = notices::get(&mut app.conn(), &app.operator(), &p, &deferred.id).unwrap();
    assert!(d.notification.last_error.unwrap().contains("451"));
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].outcome, "temporary");

    app.advance(Duration::minutes(31));
    app.worker().run_until_idle().unwrap();
    assert_eq!(status_of(&app, &p, &deferred.id), ("sent".into(), 2, 1));
    // The 550 was never tried again.
    assert_eq!(status_of(&app, &p, &rejected.id), ("failed".into(), 1, 0));
    let d = notices::get(&mut app.conn(), &app.operator(), &p, &rejected.id).unwrap();
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].outcome, "permanent");
    assert!(d.attempts[0].detail.contains("550"));
    assert_eq!(server.messages().len(), 1);
    assert_eq!(app.audit("notice.failed").len(), 1);
}

#[actix_web::test]
async fn after_the_deadline_a_notice_is_dead_and_a_pharmacist_can_resend_it() {
    let mut server = SmtpServer::stopped(free_port());
    let app = app_with(&server).await;
    let p = app.pharmacy("1341234567", "本店");
    let pharm = app.user(&p, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&pharm);
    app.user(&p, "clerk1", Role::Clerk);
    let q = enqueue_to(&app, &p, "taro@example.jp");
    for _ in 0..12 {
        app.worker().run_until_idle().unwrap();
        app.advance(Duration::hours(3));
    }
    app.worker().run_until_idle().unwrap();
    let (status, attempts, _) = status_of(&app, &p, &q.id);
    assert_eq!(status, "dead");
    assert!(attempts >= 2);
    assert_eq!(app.audit("notice.dead").len(), 1);

    // Staff see it among the notices needing attention.
    let clerk = app.signed_in("clerk1", None).await;
    let list = clerk
        .get(&format!("/api/v1/pharmacies/{p}/notices?attention=true"))
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(clerk
        .get(&format!("/p/{p}"))
        .await
        .text()
        .contains("対応が必要なお知らせ"));
    // A clerk may not resend; a pharmacist may.
    let path = format!("/api/v1/pharmacies/{p}/notices/{}/resend", q.id);
    assert_eq!(clerk.post_json(&path, json!({})).await.status, 403);
    let pharmacist = app.signed_in("pharm1", Some(&secret)).await;
    let r = pharmacist.post_json(&path, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "pending");
    assert_eq!(pharmacist.post_json(&path, json!({})).await.status, 409);
    let resent = app.audit("notice.resent");
    assert_eq!(resent.iter().filter(|a| a.outcome == "ok").count(), 1);
    assert_eq!(
        resent.iter().filter(|a| a.outcome == "denied").count(),
        1,
        "the clerk's try"
    );

    server.resume();
    app.worker().run_until_idle().unwrap();
    let got = server.wait_for(1, StdDuration::from_secs(10));
    assert_eq!(got[0]["message_id"], q.message_id);
    assert_eq!(status_of(&app, &p, &q.id).0, "sent");
    // The history shows every attempt.
    let detail = pharmacist
        .get(&format!("/api/v1/pharmacies/{p}/notices/{}", q.id))
        .await
        .json();
    let attempts = detail["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 3);
    assert_eq!(attempts.last().unwrap()["outcome"], "ok");
    let page = pharmacist.get(&format!("/p/{p}/notices/{}", q.id)).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("送信済み"));
}

#[actix_web::test]
async fn patients_without_email_consent_go_to_the_task_list() {
    let server = SmtpServer::start();
    let app = app_with(&server).await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let no_email = app.patient(&p, "山田 太郎", "ヤマダ タロウ");
    let clerk = app.signed_in("clerk1", None).await;
    // A patient with an address who has not agreed to e-mail.
    let r = clerk
        .post_json(
            &format!("/api/v1/pharmacies/{p}/patients"),
            json!({"name_kanji": "佐藤 花子", "name_kana": "サトウ ハナコ", "birth_date": "1970-01-01",
                   "sex": "female", "email": "hanako@example.jp", "email_allowed": false}),
        )
        .await;
    let not_allowed = r.json()["id"].as_str().unwrap().to_string();
    let r = clerk
        .post_json(
            &format!("/api/v1/pharmacies/{p}/patients"),
            json!({"name_kanji": "鈴木 一郎", "name_kana": "スズキ イチロウ", "birth_date": "1970-01-01",
                   "sex": "male", "email": "ichiro@example.jp", "email_allowed": true}),
        )
        .await;
    let allowed = r.json()["id"].as_str().unwrap().to_string();
    // Consent without an address is refused at entry.
    let r = clerk
        .post_json(
            &format!("/api/v1/pharmacies/{p}/patients"),
            json!({"name_kanji": "x", "name_kana": "エックス", "birth_date": "1970-01-01", "sex": "male", "email_allowed": true}),
        )
        .await;
    assert_eq!(r.status, 422);

    let mut ids = Vec::new();
    for patient in [&no_email, &not_allowed, &allowed] {
        let n = notices::enqueue(
            &mut app.conn(),
            &app.operator(),
            &app.state.outbox,
            &p,
            RecipientRef::Patient(patient.clone()),
            japanese_notice(),
            &[],
        )
        .unwrap();
        ids.push(n.id);
    }
    assert_eq!(app.worker().run_until_idle().unwrap(), 1);
    assert_eq!(status_of(&app, &p, &ids[0]).0, "needs_manual_contact");
    assert_eq!(status_of(&app, &p, &ids[1]).0, "needs_manual_contact");
    assert_eq!(status_of(&app, &p, &ids[2]).0, "sent");
    let got = server.wait_for(1, StdDuration::from_secs(10));
    assert_eq!(got[0]["to"][0], "ichiro@example.jp");

    let tasks = clerk
        .get(&format!("/api/v1/pharmacies/{p}/notices?attention=true"))
        .await
        .json();
    assert_eq!(tasks.as_array().unwrap().len(), 2);
    let r = clerk
        .post_json(
            &format!("/api/v1/pharmacies/{p}/notices/{}/contacted", ids[0]),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "contacted");
    assert_eq!(app.audit("notice.contacted").len(), 1);
    let page = clerk.get(&format!("/p/{p}/notices?attention=true")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("要連絡"));
}

#[actix_web::test]
async fn a_notice_that_would_disclose_a_drug_name_is_refused() {
    let server = SmtpServer::start();
    let app = app_with(&server).await;
    let p = app.pharmacy("1341234567", "本店");
    let mut leaky = japanese_notice();
    leaky.text.push_str("お薬: ワーファリン錠1mg");
    let r = notices::enqueue(
        &mut app.conn(),
        &app.operator(),
        &app.state.outbox,
        &p,
        RecipientRef::Address("taro@example.jp".into()),
        leaky,
        &["ワーファリン錠1mg".to_string()],
    );
    assert!(matches!(
        r,
        Err(pharmacy::notices::NoticeError::PrivacyLeak { .. })
    ));
    let count: i64 = n::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 0);
}

#[actix_web::test]
async fn admins_send_a_test_notice_from_the_api_and_console() {
    let server = SmtpServer::start();
    let app = app_with(&server).await;
    let p = app.pharmacy("1341234567", "本店");
    let admin = app.user(&p, "admin1", Role::Admin);
    let secret = app.enable_totp(&admin);
    let c = app.signed_in("admin1", Some(&secret)).await;
    let r = c
        .post_json(
            &format!("/api/v1/pharmacies/{p}/notices/test"),
            json!({"to": "not-an-address"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = c
        .post_json(
            &format!("/api/v1/pharmacies/{p}/notices/test"),
            json!({"to": "me@example.jp"}),
        )
        .await;
    assert_eq!(r.status, 201);
    app.worker().run_until_idle().unwrap();
    let got = server.wait_for(1, StdDuration::from_secs(10));
    assert_eq!(got[0]["subject"], "【本店】テスト送信のお知らせ");
    assert!(got[0]["text"].as_str().unwrap().contains("自動で送信"));
    let list = c.get(&format!("/p/{p}/notices")).await;
    assert!(list.text().contains("テスト送信"));
}

fn worker_process(app: &TestApp, server: &SmtpServer) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pharmacy"));
    cmd.arg("worker")
        .env("PHARMACY__DATABASE__URL", &app.db.url)
        .env("PHARMACY__LOG__FILTER", "warn")
        .env("PHARMACY__JOBS__LEASE_SECS", "3")
        .env("PHARMACY__JOBS__BATCH_SIZE", "5")
        .env("PHARMACY__JOBS__POLL_INTERVAL_MS", "100")
        .env("PHARMACY__MAIL__SMTP__TIMEOUT_SECS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in server.env() {
        if k != "PHARMACY__MAIL__SMTP__TIMEOUT_SECS" {
            cmd.env(k, v);
        }
    }
    cmd.spawn().expect("start the worker process")
}

#[actix_web::test]
async fn a_worker_killed_mid_batch_and_restarted_loses_nothing() {
    let server = SmtpServer::start_on(free_port(), 0.05);
    let app = app_with(&server).await;
    let p = app.pharmacy("1341234567", "本店");
    let queued: Vec<_> = (0..60)
        .map(|i| enqueue_to(&app, &p, &format!("patient{i}@example.jp")))
        .collect();
    let mut worker = worker_process(&app, &server);
    server.wait_for(12, StdDuration::from_secs(30));
    worker.kill().unwrap();
    worker.wait().unwrap();
    let in_flight: i64 = n::table
        .filter(n::status.eq("sending"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    let unsent: i64 = n::table
        .filter(n::status.ne("sent"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert!(unsent > 0, "the worker was killed before finishing");

    let mut worker = worker_process(&app, &server);
    let deadline = std::time::Instant::now() + StdDuration::from_secs(60);
    loop {
        let unsent: i64 = n::table
            .filter(n::status.ne("sent"))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        if unsent == 0 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(StdDuration::from_millis(200));
    }
    worker.kill().unwrap();
    worker.wait().unwrap();

    let stuck: i64 = n::table
        .filter(n::status.ne("sent"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(
        stuck, 0,
        "no notice left unsent or stuck in sending (in flight at kill: {in_flight})"
    );
    let got = server.messages();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for m in &got {
        *counts
            .entry(m["message_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for q in &queued {
        let c = counts.get(&q.message_id).copied().unwrap_or(0);
        assert!(c >= 1, "{} never arrived", q.message_id);
        if c > 1 {
            // Sent again after the crash: visible as a retried attempt.
            let (_, attempts, _) = status_of(&app, &p, &q.id);
            assert!(attempts >= 2, "a duplicate must show as a retry");
        }
    }
}

#[test]
fn the_command_line_sends_a_test_notice_through_the_configured_transport() {
    let db = crate::common::TestDb::new();
    let mail_dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pharmacy"))
            .args(args)
            .env("PHARMACY__DATABASE__URL", &db.url)
            .env("PHARMACY__LOG__FILTER", "warn")
            .env("PHARMACY__MAIL__FILE_DIR", mail_dir.path())
            .output()
            .unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    let out = run(&[
        "pharmacy",
        "add",
        "--code",
        "1341234567",
        "--name",
        "本店",
        "--postal-code",
        "1600022",
        "--address",
        "東京都新宿区",
        "--phone",
        "0312345678",
        "--email",
        "a@example.jp",
        "--founder",
        "株式会社テスト",
    ]);
    assert!(out.status.success());
    let out = run(&["notices", "send-test", "--to", "me@example.jp"]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("status: sent"), "{text}");
    let files: Vec<_> = std::fs::read_dir(mail_dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1);
    let out = run(&["notices", "send-test", "--to", "nonsense"]);
    assert!(!out.status.success());
}
