//! The clinics directory and notices to clinics.

use pharmacy::domain::role::Role;
use pharmacy::notices::{self, RecipientRef};
use serde_json::json;

use crate::common::{form_token, TestApp};

#[actix_web::test]
async fn admins_keep_the_directory_and_clinic_notices_respect_email_consent() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    let admin = app.user(&p, "admin1", Role::Admin);
    let secret = app.enable_totp(&admin);
    app.user(&p, "clerk1", Role::Clerk);
    let a = app.signed_in("admin1", Some(&secret)).await;
    let base = format!("/api/v1/pharmacies/{p}/clinics");

    let r = a
        .post_json(&base, json!({"name": "", "institution_code": "1342345678", "email": "x", "email_allowed": true}))
        .await;
    assert_eq!(r.status, 422);
    let f = &r.json()["error"]["fields"];
    assert!(f["name"].is_string() && f["institution_code"].is_string() && f["email"].is_string());

    let r = a
        .post_json(
            &base,
            json!({"name": "新宿内科クリニック", "institution_code": "1312345678", "fax": "03-1111-2222",
                   "email": "info@naika.example", "email_allowed": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let with_mail = r.json()["id"].as_str().unwrap().to_string();
    let r = a
        .post_json(&base, json!({"name": "駅前整形外科", "fax": "0322223333"}))
        .await;
    let fax_only = r.json()["id"].as_str().unwrap().to_string();

    let r = a
        .put_json(
            &format!("{base}/{fax_only}"),
            json!({"version": 1, "name": "駅前整形外科医院", "fax": "0322223333"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = a
        .put_json(
            &format!("{base}/{fax_only}"),
            json!({"version": 1, "name": "古い版"}),
        )
        .await;
    assert_eq!(r.status, 409);

    let clerk = app.signed_in("clerk1", None).await;
    assert_eq!(clerk.get(&base).await.json().as_array().unwrap().len(), 2);
    assert_eq!(
        clerk.post_json(&base, json!({"name": "x"})).await.status,
        403
    );
    assert!(clerk
        .get(&format!("/p/{p}/clinics"))
        .await
        .text()
        .contains("新宿内科クリニック"));

    // Console form for admins.
    let page = a.get(&format!("/p/{p}/clinics/new")).await;
    let token = form_token(&page.text());
    let r = a
        .post_form(
            &format!("/p/{p}/clinics"),
            &[
                ("csrf_token", &token),
                ("name", "歯科医院"),
                ("institution_code", "1332345678"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);

    let mut statuses = Vec::new();
    for id in [&with_mail, &fax_only] {
        let n = notices::enqueue(
            &mut app.conn(),
            &app.operator(),
            &app.state.outbox,
            &p,
            RecipientRef::Clinic(id.clone()),
            pharmacy::notices::templates::test_notice(
                &notices::letterhead(&mut app.conn(), &p).unwrap(),
                "now",
            )
            .unwrap(),
            &[],
        )
        .unwrap();
        statuses.push(n.status);
    }
    assert_eq!(statuses, ["pending", "needs_manual_contact"]);
    assert_eq!(
        app.audit("clinic.created")
            .iter()
            .filter(|a| a.outcome == "ok")
            .count(),
        3
    );
}
