//! Staff management by admins, and pharmacy-scoped authorization.

use pharmacy::domain::role::Role;
use serde_json::json;

use crate::common::{form_token, TestApp};

#[actix_web::test]
async fn admin_creates_staff_changes_roles_and_resets_second_factor() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    let admin_id = app.user(&p, "admin1", Role::Admin);
    let secret = app.enable_totp(&admin_id);
    let c = app.signed_in("admin1", Some(&secret)).await;
    let users = format!("/api/v1/pharmacies/{p}/users");

    let r = c
        .post_json(
            &users,
            json!({"username": "Clerk2", "display_name": "事務 二郎", "role": "clerk"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let pw = created["initial_password"].as_str().unwrap().to_string();
    let uid = created["id"].as_str().unwrap().to_string();
    assert!(pw.len() >= 13);
    assert_eq!(app.client().sign_in("clerk2", &pw).await.status, 200);

    // Duplicate name, bad name, weak password: clear errors.
    let r = c
        .post_json(
            &users,
            json!({"username": "clerk2", "display_name": "x", "role": "clerk"}),
        )
        .await;
    assert_eq!(r.status, 409);
    let r = c
        .post_json(&users, json!({"username": "a b", "display_name": "", "role": "clerk", "password": "password1234"}))
        .await;
    assert_eq!(r.status, 422);
    let f = &r.json()["error"]["fields"];
    assert!(
        f["username"].is_string() && f["display_name"].is_string() && f["password"].is_string()
    );
    let r = c
        .post_json(
            &users,
            json!({"username": "x1", "display_name": "x", "role": "owner"}),
        )
        .await;
    assert_eq!(r.status, 422);

    let list = c.get(&users).await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let r = c
        .put_json(
            &format!("{users}/{uid}/role"),
            json!({"role": "pharmacist"}),
        )
        .await;
    assert_eq!(r.status, 204);
    // Now a pharmacist: must enrol a second factor.
    assert_eq!(
        app.client().sign_in("clerk2", &pw).await.json()["stage"],
        "enroll"
    );
    // Admins cannot demote themselves (lock-out).
    let r = c
        .put_json(
            &format!("{users}/{admin_id}/role"),
            json!({"role": "clerk"}),
        )
        .await;
    assert_eq!(r.status, 409);

    assert_eq!(
        c.post_json(&format!("{users}/{uid}/reset-second-factor"), json!({}))
            .await
            .status,
        204
    );
    assert_eq!(app.audit("user.second_factor_reset").len(), 1);
    assert_eq!(app.audit("user.role_changed").len(), 1);
    assert_eq!(app.audit("user.created").len(), 2, "admin1 and clerk2");
}

#[actix_web::test]
async fn non_admins_and_other_pharmacies_admins_cannot_manage_staff() {
    let app = TestApp::spawn().await;
    let a = app.pharmacy("1341234567", "本店");
    let b = app.pharmacy("1341234575", "駅前店");
    app.user(&a, "clerk1", Role::Clerk);
    let target = app.user(&b, "clerk_b", Role::Clerk);
    let admin_b = app.user(&b, "admin_b", Role::Admin);
    let admin_a = app.user(&a, "admin_a", Role::Admin);
    let sa = app.enable_totp(&admin_a);
    let _ = admin_b;

    let clerk = app.signed_in("clerk1", None).await;
    assert_eq!(
        clerk
            .get(&format!("/api/v1/pharmacies/{a}/users"))
            .await
            .status,
        403
    );
    assert_eq!(
        clerk
            .get(&format!("/api/v1/pharmacies/{a}/audit"))
            .await
            .status,
        403
    );

    let admin = app.signed_in("admin_a", Some(&sa)).await;
    // Admin of A acting on a member of B through A's URL: not found, nothing changes.
    let r = admin
        .post_json(
            &format!("/api/v1/pharmacies/{a}/users/{target}/disable"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    // Through B's URL: not an admin there.
    let r = admin
        .post_json(
            &format!("/api/v1/pharmacies/{b}/users/{target}/disable"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        app.client()
            .sign_in("clerk_b", crate::common::PASSWORD)
            .await
            .status,
        200
    );
    assert!(app
        .audit("user.disabled")
        .iter()
        .all(|a| a.outcome == "denied"));
}

#[actix_web::test]
async fn console_user_management_and_audit_page() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    let admin_id = app.user(&p, "admin1", Role::Admin);
    let secret = app.enable_totp(&admin_id);
    let c = app.signed_in("admin1", Some(&secret)).await;
    let page = c.get(&format!("/p/{p}/users")).await;
    assert_eq!(page.status, 200);
    let token = form_token(&page.text());
    let r = c
        .post_form(
            &format!("/p/{p}/users"),
            &[
                ("csrf_token", &token),
                ("username", "courier1"),
                ("display_name", "配送 一郎"),
                ("role", "courier"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("初期パスワード"));
    let audit = c.get(&format!("/p/{p}/audit?action=user.")).await;
    assert_eq!(audit.status, 200);
    assert!(audit.text().contains("user.created"));
    let filtered = c.get(&format!("/p/{p}/audit?action=patient.")).await;
    assert!(!filtered.text().contains("user.created"));
    let api = c
        .get(&format!("/api/v1/pharmacies/{p}/audit?outcome=ok&limit=5"))
        .await;
    assert_eq!(api.status, 200);
    assert!(api.json().as_array().unwrap().len() <= 5);
    assert_eq!(
        c.get(&format!("/api/v1/pharmacies/{p}/audit?from=yesterday"))
            .await
            .status,
        422
    );
}
