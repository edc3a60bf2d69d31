//! `pharmacy audit verify` against a real database: intact chains pass; altered,
//! deleted and inserted rows (after dropping the guard triggers) are found at the
//! first bad row and the command exits non-zero.

use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use pharmacy::db::schema::audit_events as a;
use pharmacy::domain::role::Role;

use crate::common::{backend, TestApp};

fn verify(app: &TestApp) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pharmacy"))
        .args(["audit", "verify"])
        .env("PHARMACY__DATABASE__URL", &app.db.url)
        .env("PHARMACY__LOG__FILTER", "warn")
        .output()
        .expect("run pharmacy");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn drop_guards(app: &TestApp) {
    let sql = if backend() == "postgres" {
        "DROP TRIGGER audit_events_no_update ON audit_events; \
         DROP TRIGGER audit_events_no_delete ON audit_events;"
    } else {
        "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"
    };
    app.conn().batch_execute(sql).unwrap();
}

/// A pharmacy with a few audited events; returns its id and the id of row `seq`.
fn setup(app: &TestApp) -> String {
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    app.patient(&p, "山田 太郎", "ヤマダ タロウ");
    app.patient(&p, "佐藤 花子", "サトウ ハナコ");
    p
}

fn row_id(app: &TestApp, chain: &str, seq: i64) -> String {
    a::table
        .filter(a::chain_key.eq(chain))
        .filter(a::seq.eq(seq))
        .select(a::id)
        .first(&mut app.conn())
        .unwrap()
}

#[actix_web::test]
async fn an_intact_trail_verifies() {
    let app = TestApp::spawn().await;
    setup(&app);
    let (ok, out) = verify(&app);
    assert!(ok, "{out}");
    assert!(out.contains("intact"), "{out}");
}

#[actix_web::test]
async fn an_altered_row_is_named() {
    let app = TestApp::spawn().await;
    let p = setup(&app);
    drop_guards(&app);
    let id = row_id(&app, &p, 3);
    diesel::update(a::table.filter(a::chain_key.eq(&p)).filter(a::seq.eq(3)))
        .set(a::actor_name.eq("someone-else"))
        .execute(&mut app.conn())
        .unwrap();
    let (ok, out) = verify(&app);
    assert!(!ok, "{out}");
    assert!(out.contains("seq=3") && out.contains(&id), "{out}");
    assert!(out.contains("altered"), "{out}");
}

#[actix_web::test]
async fn a_deleted_row_is_found_at_the_next_one() {
    let app = TestApp::spawn().await;
    let p = setup(&app);
    drop_guards(&app);
    let next = row_id(&app, &p, 3);
    diesel::delete(a::table.filter(a::chain_key.eq(&p)).filter(a::seq.eq(2)))
        .execute(&mut app.conn())
        .unwrap();
    let (ok, out) = verify(&app);
    assert!(!ok, "{out}");
    assert!(
        out.contains("expected seq=2") && out.contains(&next),
        "{out}"
    );

    // Deleting the newest row is detected against the chain head.
    let app = TestApp::spawn().await;
    let p = setup(&app);
    drop_guards(&app);
    diesel::delete(a::table.filter(a::chain_key.eq(&p)).filter(a::seq.eq(4)))
        .execute(&mut app.conn())
        .unwrap();
    let (ok, out) = verify(&app);
    assert!(!ok, "{out}");
    assert!(out.contains("newest rows deleted"), "{out}");
}

#[actix_web::test]
async fn an_inserted_row_is_named() {
    let app = TestApp::spawn().await;
    let p = setup(&app);
    // Appending needs no dropped trigger: the table accepts INSERT.
    let (prev, seq): (String, i64) = a::table
        .filter(a::chain_key.eq(&p))
        .order(a::seq.desc())
        .select((a::hash, a::seq))
        .first(&mut app.conn())
        .unwrap();
    diesel::insert_into(a::table)
        .values((
            a::chain_key.eq(&p),
            a::seq.eq(seq + 1),
            a::id.eq("forged-row"),
            a::occurred_at.eq(chrono::Utc::now().naive_utc()),
            a::action.eq("patient.read"),
            a::outcome.eq("ok"),
            a::detail.eq(""),
            a::prev_hash.eq(&prev),
            a::hash.eq("0".repeat(64)),
        ))
        .execute(&mut app.conn())
        .unwrap();
    let (ok, out) = verify(&app);
    assert!(!ok, "{out}");
    assert!(out.contains("forged-row"), "{out}");
}
