//! Sign-in, second factor, sessions, CSRF and failure limits.

use chrono::Duration;
use pharmacy::domain::role::Role;
use serde_json::json;

use crate::common::{form_token, Options, TestApp, PASSWORD};

#[actix_web::test]
async fn wrong_password_is_refused_and_audited() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    let uid = app.user(&p, "clerk1", Role::Clerk);
    let c = app.client();
    let r = c.sign_in("clerk1", "not-the-password").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    assert!(!c.has_cookie("pharmacy_session"));
    let audit = app.audit("auth.sign_in");
    let last = audit.last().unwrap();
    assert_eq!(last.outcome, "denied");
    assert_eq!(last.subject_id.as_deref(), Some(uid.as_str()));
    assert_eq!(last.pharmacy_id.as_deref(), Some(p.as_str()));
    assert!(last.detail.contains("wrong password"));
    // Nothing is usable afterwards.
    assert_eq!(c.get("/api/v1/session").await.status, 401);
    // Unknown accounts are refused the same way (audited in the system chain).
    let r = c.sign_in("nobody", PASSWORD).await;
    assert_eq!(r.status, 401);
    assert_eq!(app.audit("auth.sign_in").last().unwrap().pharmacy_id, None);
}

#[actix_web::test]
async fn clerk_signs_in_without_second_factor_and_session_id_is_new_each_time() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.client();
    let r = c.sign_in("clerk1", PASSWORD).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["stage"], "active");
    let cookie1 = r.header("set-cookie").unwrap();
    assert!(cookie1.contains("HttpOnly"));
    assert!(cookie1.contains("SameSite=Lax"));
    let me = c.get("/api/v1/session").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["memberships"][0]["role"], "clerk");
    let r2 = app.client().sign_in("clerk1", PASSWORD).await;
    assert_ne!(cookie1, r2.header("set-cookie").unwrap());
}

#[actix_web::test]
async fn pharmacist_needs_totp_and_each_code_works_once() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    let uid = app.user(&p, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&uid);
    let c = app.client();
    let r = c.sign_in("pharm1", PASSWORD).await;
    assert_eq!(r.json()["stage"], "second_factor");
    // Not signed in yet: patient data is refused.
    assert_eq!(
        c.get(&format!("/api/v1/pharmacies/{p}/patients"))
            .await
            .status,
        401
    );

    // Wrong code: refused and audited, session unchanged.
    let r = c
        .post_json("/api/v1/session/second-factor", json!({"code": "000000"}))
        .await;
    assert_eq!(r.status, 401);
    let denied = app.audit("auth.sign_in");
    assert!(denied
        .iter()
        .any(|a| a.outcome == "denied" && a.detail.contains("wrong code")));

    let code = app.totp_code(&secret);
    let r = c
        .post_json("/api/v1/session/second-factor", json!({"code": code}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    c.set_csrf_from(&r);
    assert_eq!(
        c.get(&format!("/api/v1/pharmacies/{p}/patients"))
            .await
            .status,
        200
    );

    // The same code again, in a new sign-in within its validity: refused as reused.
    let c2 = app.client();
    c2.sign_in("pharm1", PASSWORD).await;
    let r = c2
        .post_json("/api/v1/session/second-factor", json!({"code": code}))
        .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("used"), "{}", r.text());
    assert!(app
        .audit("auth.sign_in")
        .iter()
        .any(|a| a.outcome == "denied" && a.detail.contains("reused code")));
    assert_eq!(
        c2.get(&format!("/api/v1/pharmacies/{p}/patients"))
            .await
            .status,
        401
    );

    // The next time step's code works.
    app.advance(Duration::seconds(30));
    let r = c2
        .post_json(
            "/api/v1/session/second-factor",
            json!({"code": app.totp_code(&secret)}),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn enrolment_is_required_then_recovery_codes_work_once() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "admin1", Role::Admin);
    let c = app.client();
    let r = c.sign_in("admin1", PASSWORD).await;
    assert_eq!(r.json()["stage"], "enroll");
    assert_eq!(
        c.get(&format!("/api/v1/pharmacies/{p}/users")).await.status,
        401
    );

    let r = c
        .post_json("/api/v1/account/second-factor", json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    assert!(r.json()["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let r = c
        .post_json(
            "/api/v1/account/second-factor/confirm",
            json!({"code": "123456"}),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .post_json(
            "/api/v1/account/second-factor/confirm",
            json!({"code": app.totp_code(&secret)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let codes: Vec<String> = r.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    c.set_csrf_from(&r);
    assert_eq!(
        c.get(&format!("/api/v1/pharmacies/{p}/users")).await.status,
        200
    );

    // Later: a recovery code instead of the app, once.
    for attempt in 0..2 {
        let c = app.client();
        assert_eq!(
            c.sign_in("admin1", PASSWORD).await.json()["stage"],
            "second_factor"
        );
        let r = c
            .post_json(
                "/api/v1/session/second-factor",
                json!({"recovery_code": codes[0].to_uppercase()}),
            )
            .await;
        assert_eq!(r.status, if attempt == 0 { 200 } else { 401 });
    }
}

#[actix_web::test]
async fn demo_mode_lets_demo_accounts_skip_enrolment_only_there() {
    let app = TestApp::spawn_with(Options {
        demo_mode: true,
        ..Options::default()
    })
    .await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "admin1", Role::Admin);
    let c = app.client();
    assert_eq!(
        c.sign_in("admin1", PASSWORD).await.json()["stage"],
        "active"
    );
    let page = c.get("/").await;
    assert_eq!(page.status, 303);
    let home = c.get(&format!("/p/{p}")).await;
    assert!(home.text().contains("DEMO"));
}

#[actix_web::test]
async fn idle_and_absolute_timeouts_end_sessions_and_are_audited() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.signed_in("clerk1", None).await;
    let list = format!("/api/v1/pharmacies/{p}/patients");

    // Activity keeps the session alive past 15 minutes in total.
    for _ in 0..3 {
        app.advance(Duration::minutes(10));
        assert_eq!(c.get(&list).await.status, 200);
    }
    // 15 minutes idle: gone.
    app.advance(Duration::minutes(15));
    let r = c.get(&list).await;
    assert_eq!(r.status, 401);
    let expired = app.audit("auth.session_expired");
    assert_eq!(expired.len(), 1);
    assert!(expired[0].detail.contains("idle"));

    // Absolute: 12 hours even with constant activity.
    let c = app.signed_in("clerk1", None).await;
    for _ in 0..(12 * 6 - 1) {
        app.advance(Duration::minutes(10));
        assert_eq!(c.get(&list).await.status, 200);
    }
    app.advance(Duration::minutes(10));
    assert_eq!(c.get(&list).await.status, 401);
    let expired = app.audit("auth.session_expired");
    assert_eq!(expired.len(), 2);
    assert!(expired[1].detail.contains("absolute"));
}

#[actix_web::test]
async fn state_changes_without_csrf_token_are_refused_and_audited() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.signed_in("clerk1", None).await;
    let body = json!({"name_kanji": "山田 太郎", "name_kana": "ヤマダ タロウ", "birth_date": "1980-01-01", "sex": "male"});
    let path = format!("/api/v1/pharmacies/{p}/patients");

    let real = c.csrf.borrow().clone();
    c.forget_csrf();
    let r = c.post_json(&path, body.clone()).await;
    assert_eq!(r.status, 403);
    *c.csrf.borrow_mut() = Some("forged-token".into());
    let r = c.post_json(&path, body.clone()).await;
    assert_eq!(r.status, 403);
    let audit = app.audit("security.csrf_rejected");
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].outcome, "denied");
    assert_eq!(app.audit("patient.created").len(), 0);
    // Nothing was created.
    *c.csrf.borrow_mut() = real;
    let list = c.get(&path).await.json();
    assert_eq!(list.as_array().unwrap().len(), 0);
    assert_eq!(c.post_json(&path, body).await.status, 201);

    // Console forms: the token travels in the form body.
    let form = c.get(&format!("/p/{p}/patients/new")).await.text();
    let token = form_token(&form);
    let fields = [
        ("name_kanji", "佐藤 花子"),
        ("name_kana", "さとう はなこ"),
        ("birth_date", "1975-05-05"),
        ("sex", "female"),
    ];
    let r = c.post_form(&format!("/p/{p}/patients"), &fields).await;
    assert_eq!(r.status, 403);
    let mut with_token = fields.to_vec();
    with_token.push(("csrf_token", &token));
    let r = c.post_form(&format!("/p/{p}/patients"), &with_token).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(app.audit("patient.created").len(), 2);
}

#[actix_web::test]
async fn login_form_needs_its_double_submit_token() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.client();
    let r = c
        .post_form("/login", &[("username", "clerk1"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 403);
    let page = c.get("/login").await;
    let token = form_token(&page.text());
    let r = c
        .post_form(
            "/login",
            &[
                ("username", "clerk1"),
                ("password", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").as_deref(), Some("/"));
    let r = c.get("/").await;
    assert_eq!(r.header("location").unwrap(), format!("/p/{p}"));
    // Sign out through the form.
    let home = c.get(&format!("/p/{p}")).await.text();
    let r = c
        .post_form("/logout", &[("csrf_token", &form_token(&home))])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(c.get(&format!("/p/{p}")).await.status, 303);
}

#[actix_web::test]
async fn the_101st_failure_in_an_hour_is_refused_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.client();
    for i in 0..100 {
        let r = c.sign_in("clerk1", "wrong-password-x").await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let r = c.sign_in("clerk1", PASSWORD).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    let last = app.audit("auth.sign_in").pop().unwrap();
    assert_eq!(last.outcome, "denied");
    assert!(last.detail.contains("rate limited"), "{}", last.detail);
    // After the hour, the right password works again.
    app.advance(Duration::minutes(61));
    assert_eq!(c.sign_in("clerk1", PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn disabling_a_user_ends_all_their_sessions_at_once() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    let uid = app.user(&p, "clerk1", Role::Clerk);
    let a = app.signed_in("clerk1", None).await;
    let b = app.signed_in("clerk1", None).await;
    let list = format!("/api/v1/pharmacies/{p}/patients");
    assert_eq!(a.get(&list).await.status, 200);
    pharmacy::users::disable(&mut app.conn(), &app.operator(), &p, &uid).unwrap();
    assert_eq!(a.get(&list).await.status, 401);
    assert_eq!(b.get(&list).await.status, 401);
    assert_eq!(app.client().sign_in("clerk1", PASSWORD).await.status, 401);
    assert_eq!(app.audit("user.disabled").len(), 1);
}

#[actix_web::test]
async fn sign_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.signed_in("clerk1", None).await;
    assert_eq!(c.delete("/api/v1/session").await.status, 204);
    assert_eq!(c.get("/api/v1/session").await.status, 401);
    assert_eq!(app.audit("auth.sign_out").len(), 1);
}

#[actix_web::test]
async fn password_change_applies_policy_and_old_password_stops_working() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.signed_in("clerk1", None).await;
    let r = c
        .post_json(
            "/api/v1/account/password",
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"]["fields"]["new_password"].is_string());
    // Too common (and long enough).
    let r = c
        .post_json(
            "/api/v1/account/password",
            json!({"current_password": PASSWORD, "new_password": "qwertyuiop123"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = c
        .post_json(
            "/api/v1/account/password",
            json!({"current_password": "wrong", "new_password": "a-much-better-passphrase"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = c
        .post_json(
            "/api/v1/account/password",
            json!({"current_password": PASSWORD, "new_password": "a-much-better-passphrase"}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(app.client().sign_in("clerk1", PASSWORD).await.status, 401);
    assert_eq!(
        app.client()
            .sign_in("clerk1", "a-much-better-passphrase")
            .await
            .status,
        200
    );
}
