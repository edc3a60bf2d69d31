//! Patient records through the API and the console; tenancy and input errors.

use pharmacy::domain::role::Role;
use serde_json::json;

use crate::common::{form_token, TestApp};

fn yamada() -> serde_json::Value {
    json!({
        "name_kanji": "山田 太郎",
        "name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ",
        "birth_date": "１９８０－０４－０１",
        "sex": "male",
        "phone": "０９０－１２３４－５６７８",
        "insurer_number": "01130012",
        "insured_symbol": "１２",
        "insured_number": "３４５",
        "insured_branch": "01",
        "public_expenses": [{"payer_number": "54136015", "recipient_number": "1234566"}],
        "allergies": "ペニシリン"
    })
}

#[actix_web::test]
async fn create_read_update_and_search_a_patient() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.signed_in("clerk1", None).await;
    let base = format!("/api/v1/pharmacies/{p}/patients");

    let r = c.post_json(&base, yamada()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["name_kana"], "ヤマダ\u{3000}タロウ");
    assert_eq!(created["birth_date"], "1980-04-01");
    assert_eq!(created["phone"], "09012345678");
    assert_eq!(created["insured_number"], "345");
    assert_eq!(created["public_expenses"][0]["payer_number"], "54136015");
    assert_eq!(created["version"], 1);

    let r = c.get(&format!("{base}/{id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["allergies"], "ペニシリン");
    let reads = app.audit("patient.read");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].subject_id.as_deref(), Some(id.as_str()));
    assert_eq!(reads[0].actor.as_deref(), Some("clerk1"));

    for ((k, v), n) in [
        (("kana", "やまだ"), 1),
        (("kana", "ﾔﾏ"), 1),
        (("kana", "サトウ"), 0),
        (("kana", "%"), 0),
        (("birth_date", "1980-04-01"), 1),
        (("birth_date", "1980-04-02"), 0),
        (("insurance_number", "３４５"), 1),
        (("insurance_number", "01130012"), 1),
    ] {
        let q = serde_urlencoded::to_string([(k, v)]).unwrap();
        let r = c.get(&format!("{base}?{q}")).await;
        assert_eq!(r.status, 200, "{q}");
        assert_eq!(r.json().as_array().unwrap().len(), n, "{q}");
    }
    let r = c.get(&format!("{base}?birth_date=someday")).await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"]["fields"]["birth_date"].is_string());

    let mut update = yamada();
    update["version"] = json!(1);
    update["address"] = json!("東京都新宿区1-1");
    let r = c.put_json(&format!("{base}/{id}"), update.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["version"], 2);
    let updated = app.audit("patient.updated");
    assert_eq!(updated.len(), 1);
    assert!(updated[0].detail.contains("address"));
    assert!(
        !updated[0].detail.contains("東京都"),
        "no personal data in the audit detail"
    );

    // A stale version is refused; nothing changes.
    update["address"] = json!("大阪府");
    let r = c.put_json(&format!("{base}/{id}"), update).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        c.get(&format!("{base}/{id}")).await.json()["address"],
        "東京都新宿区1-1"
    );
}

#[actix_web::test]
async fn invalid_fields_are_all_reported_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.signed_in("clerk1", None).await;
    let base = format!("/api/v1/pharmacies/{p}/patients");
    let r = c
        .post_json(
            &base,
            json!({"name_kanji": "", "name_kana": "Yamada", "birth_date": "2999-01-01",
                   "sex": "x", "insurer_number": "01130013", "insured_number": "1",
                   "email": "nope", "insured_branch": "123"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let fields = &r.json()["error"]["fields"];
    for f in [
        "name_kanji",
        "name_kana",
        "birth_date",
        "sex",
        "insurer_number",
        "email",
        "insured_branch",
    ] {
        assert!(fields[f].is_string(), "no error for {f}: {fields}");
    }
    assert_eq!(c.get(&base).await.json().as_array().unwrap().len(), 0);
    assert_eq!(app.audit("patient.created").len(), 0);
}

#[actix_web::test]
async fn another_pharmacys_patient_is_not_found_and_the_attempt_is_audited() {
    let app = TestApp::spawn().await;
    let a = app.pharmacy("1341234567", "本店");
    let b = app.pharmacy("1341234575", "駅前店");
    app.user(&a, "clerk_a", Role::Clerk);
    let theirs = app.patient(&b, "他店 患者", "タテン カンジャ");
    let c = app.signed_in("clerk_a", None).await;

    // Their patient id under our pharmacy's URL.
    let r = c
        .get(&format!("/api/v1/pharmacies/{a}/patients/{theirs}"))
        .await;
    assert_eq!(r.status, 404);
    let denied = app.audit("patient.read");
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].outcome, "denied");
    assert_eq!(denied[0].pharmacy_id.as_deref(), Some(b.as_str()));
    // Their pharmacy in the URL: not a member.
    let r = c
        .get(&format!("/api/v1/pharmacies/{b}/patients/{theirs}"))
        .await;
    assert_eq!(r.status, 403);
    let r = c.get(&format!("/api/v1/pharmacies/{b}/patients")).await;
    assert_eq!(r.status, 403);
    // Writing through our URL changes nothing.
    let r = c
        .put_json(
            &format!("/api/v1/pharmacies/{a}/patients/{theirs}"),
            json!({"version": 1, "name_kanji": "改ざん", "name_kana": "カイザン", "birth_date": "1970-01-02", "sex": "female"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let p = pharmacy::patients::get(&mut app.conn(), &app.operator(), &b, &theirs).unwrap();
    assert_eq!(p.name_kanji, "他店\u{3000}患者");
    assert_eq!(p.version, 1);
    // The console answers the same way.
    let r = c.get(&format!("/p/{a}/patients/{theirs}")).await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("<html"));
}

#[actix_web::test]
async fn couriers_never_see_patient_records() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "courier1", Role::Courier);
    let id = app.patient(&p, "山田 花子", "ヤマダ ハナコ");
    let c = app.signed_in("courier1", None).await;
    assert_eq!(
        c.get(&format!("/api/v1/pharmacies/{p}/patients"))
            .await
            .status,
        403
    );
    assert_eq!(
        c.get(&format!("/api/v1/pharmacies/{p}/patients/{id}"))
            .await
            .status,
        403
    );
    let denied = app.audit("patient.read");
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].outcome, "denied");
}

#[actix_web::test]
async fn malformed_oversized_and_mistyped_bodies_get_clear_errors() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.signed_in("clerk1", None).await;
    let base = format!("/api/v1/pharmacies/{p}/patients");
    use awc::http::Method;

    let r = c
        .send(
            Method::POST,
            &base,
            Some("application/json"),
            b"{\"name_kanji\": ".to_vec(),
            true,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "bad_request");

    let r = c
        .send(
            Method::POST,
            &base,
            Some("application/json"),
            b"{\"name_kanji\": 12}".to_vec(),
            true,
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"]["message"].is_string());

    let r = c
        .send(
            Method::POST,
            &base,
            Some("application/json"),
            b"[1,2,3]".to_vec(),
            true,
        )
        .await;
    assert_eq!(r.status, 422);

    let big = format!("{{\"notes\": \"{}\"}}", "x".repeat(300 * 1024));
    let r = c
        .send(
            Method::POST,
            &base,
            Some("application/json"),
            big.into_bytes(),
            true,
        )
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["code"], "payload_too_large");

    let r = c
        .send(
            Method::POST,
            &base,
            Some("text/plain"),
            b"hello".to_vec(),
            true,
        )
        .await;
    assert_eq!(r.status, 415);

    let r = c
        .put_json(&format!("{base}/x"), json!({"version": "one"}))
        .await;
    assert_eq!(r.status, 422);

    let r = c.get(&format!("{base}?page=abc")).await;
    assert_eq!(r.status, 400);
    assert_eq!(app.audit("patient.created").len(), 0);
}

#[actix_web::test]
async fn console_registration_shows_field_errors_and_keeps_input() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.signed_in("clerk1", None).await;
    let token = form_token(&c.get(&format!("/p/{p}/patients/new")).await.text());
    let r = c
        .post_form(
            &format!("/p/{p}/patients"),
            &[
                ("csrf_token", &token),
                ("name_kanji", "鈴木 一郎"),
                ("name_kana", "スズキ イチロウ"),
                ("birth_date", "1945-13-40"),
                ("sex", "male"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    let html = r.text();
    assert!(html.contains("birth_date"));
    assert!(html.contains("鈴木"), "typed values are kept");
    assert_eq!(app.audit("patient.created").len(), 0);

    let r = c
        .post_form(
            &format!("/p/{p}/patients"),
            &[
                ("csrf_token", &token),
                ("name_kanji", "鈴木 一郎"),
                ("name_kana", "スズキ イチロウ"),
                ("birth_date", "1945-01-30"),
                ("sex", "male"),
                ("public_payer_1", "54136015"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let detail = c.get(&r.header("location").unwrap()).await;
    assert_eq!(detail.status, 200);
    assert!(detail.text().contains("鈴木"));
    assert!(detail.text().contains("54136015"));
    let list = c
        .get(&format!("/p/{p}/patients?kana=%E3%81%99%E3%81%9A"))
        .await;
    assert!(list.text().contains("スズキ"));
}
