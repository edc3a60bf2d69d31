//! Storage on the backend under test: migrations from empty, round trips,
//! append-only audit table, UTC timestamps.

use diesel::prelude::*;
use pharmacy::clock::Clock;
use pharmacy::db::schema::audit_events;
use pharmacy::domain::role::Role;

use crate::common::{TestApp, TestDb};

#[actix_web::test]
async fn migrate_from_empty_then_create_and_read_back() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let applied = pharmacy::db::run_migrations(&mut conn).unwrap();
    assert!(!applied.is_empty());
    // Idempotent.
    assert!(pharmacy::db::run_migrations(&mut conn).unwrap().is_empty());
    drop(conn);

    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    let uid = app.user(&p, "clerk1", Role::Clerk);
    let pid = app.patient(&p, "山田 太郎", "ヤマダ タロウ");
    let ph = pharmacy::pharmacies::find_by_code(&mut app.conn(), "1341234567")
        .unwrap()
        .unwrap();
    assert_eq!(ph.name, "本店");
    assert_eq!(ph.phone, "0312345678");
    assert_eq!(
        pharmacy::users::find_id(&mut app.conn(), "CLERK1").unwrap(),
        Some(uid)
    );
    let patient = pharmacy::patients::get(&mut app.conn(), &app.operator(), &p, &pid).unwrap();
    assert_eq!(patient.name_kana, "ヤマダ\u{3000}タロウ");
    assert_eq!(patient.birth_date.to_string(), "1970-01-02");
    // Stored in UTC, to the microsecond.
    let now = app.clock.now().naive_utc();
    assert!((now - patient.created_at).num_seconds().abs() < 5);
    // The same pharmacy code twice is refused.
    let dup = pharmacy::pharmacies::create(
        &mut app.conn(),
        &app.operator(),
        &pharmacy::domain::pharmacy::PharmacyInput {
            code: "1341234567".into(),
            name: "x".into(),
            postal_code: "1000001".into(),
            address: "x".into(),
            phone: "0300000000".into(),
            email: "a@b.jp".into(),
            founder: "x".into(),
        },
    );
    assert!(matches!(
        dup,
        Err(pharmacy::pharmacies::PharmacyError::DuplicateCode(_))
    ));
}

#[actix_web::test]
async fn the_database_refuses_update_and_delete_of_audit_rows() {
    let app = TestApp::spawn().await;
    app.pharmacy("1341234567", "本店");
    let mut conn = app.conn();
    let upd = diesel::update(audit_events::table)
        .set(audit_events::detail.eq("tampered"))
        .execute(&mut conn);
    assert!(upd.is_err(), "UPDATE must be refused");
    let del = diesel::delete(audit_events::table).execute(&mut conn);
    assert!(del.is_err(), "DELETE must be refused");
    let n: i64 = audit_events::table.count().get_result(&mut conn).unwrap();
    assert_eq!(n, 1);
}

#[actix_web::test]
async fn concurrent_audited_writes_keep_every_chain_intact() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    let mut handles = Vec::new();
    for i in 0..8 {
        let pool = app.pool.clone();
        let p = p.clone();
        let ctx = app.operator();
        handles.push(std::thread::spawn(move || {
            for j in 0..10 {
                let input = pharmacy::domain::patient::PatientInput {
                    name_kanji: format!("患者 {i}-{j}"),
                    name_kana: "カンジャ".into(),
                    birth_date: "1990-01-01".into(),
                    sex: "other".into(),
                    ..Default::default()
                };
                pharmacy::patients::create(&mut pool.get().unwrap(), &ctx, &p, &input).unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let reports = pharmacy::audit::verify::verify_all(&mut app.conn()).unwrap();
    let mine = reports.iter().find(|r| r.chain_key == p).unwrap();
    assert_eq!(mine.result, Ok(81));
}

#[actix_web::test]
async fn housekeeping_removes_only_stale_short_lived_rows() {
    use pharmacy::db::schema::{audit_events, login_failures, sessions};
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.client();
    assert_eq!(c.sign_in("clerk1", "wrong-password-x").await.status, 401);
    assert_eq!(
        c.sign_in("clerk1", crate::common::PASSWORD).await.status,
        200
    );
    let count = |app: &TestApp| -> (i64, i64, i64) {
        let mut conn = app.conn();
        (
            sessions::table.count().get_result(&mut conn).unwrap(),
            login_failures::table.count().get_result(&mut conn).unwrap(),
            audit_events::table.count().get_result(&mut conn).unwrap(),
        )
    };
    let before = count(&app);
    let removed = pharmacy::housekeeping::run(&mut app.conn(), app.clock.now()).unwrap();
    assert_eq!(
        removed,
        pharmacy::housekeeping::Removed::default(),
        "nothing is stale yet"
    );
    let later = app.clock.now() + chrono::Duration::days(2);
    let removed = pharmacy::housekeeping::run(&mut app.conn(), later).unwrap();
    assert_eq!((removed.sessions, removed.login_failures), (1, 1));
    let after = count(&app);
    assert_eq!((after.0, after.1), (0, 0));
    assert_eq!(after.2, before.2, "audit rows are never removed");
}
