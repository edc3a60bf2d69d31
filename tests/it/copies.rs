//! Prescription copies by fax / e-mail: intake of real-world-shaped messages,
//! triage and quarantine, the MTA pipe, redelivery, symbols read from images; and
//! the helpers the originals tests share.

use awc::http::Method;
use diesel::prelude::*;
use pharmacy::clock::Clock;
use pharmacy::domain::role::Role;
use serde_json::{json, Value};

use crate::common::{form_token, Options, TestApp, TestClient};

pub(crate) const AMLODIN: &str = "2171022F2041";
pub(crate) const LOXONIN: &str = "1149019F1560";
pub(crate) const OXYCONTIN: &str = "8119002G5020";

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/mail/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub(crate) fn count(app: &TestApp, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {sql}"))
        .get_result::<N>(&mut app.conn())
        .unwrap()
        .n
}

/// A JAHIS 2D symbol's text (e-prescription CSV) issued today.
pub(crate) fn symbol(app: &TestApp) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/symbol_sample.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace(
        "51,20261120",
        &format!("51,{}", today(app).format("%Y%m%d")),
    )
}

pub(crate) fn today(app: &TestApp) -> chrono::NaiveDate {
    pharmacy::context::jst(app.clock.now().naive_utc()).date_naive()
}

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    pub(crate) pid: String,
    pub(crate) clinic: String,
    pub(crate) other_clinic: String,
    pub(crate) patient: String,
    pub(crate) pharm: TestClient,
    pub(crate) clerk: TestClient,
}

pub(crate) async fn setup_with(env: Vec<(&'static str, String)>) -> Setup {
    let app = TestApp::spawn_with(Options {
        env,
        ..Options::default()
    })
    .await;
    pharmacy::drugs::import::import_curated(&mut app.conn(), &app.operator()).unwrap();
    let pid = app.pharmacy("1341234567", "さくら薬局");
    let ctx = app.operator();
    let mut conn = app.conn();
    let clinic = pharmacy::clinics::create(
        &mut conn,
        &ctx,
        &pid,
        &pharmacy::domain::clinic::ClinicInput {
            name: "新宿内科クリニック".into(),
            institution_code: Some("1312345678".into()),
            fax: Some("03-3333-1112".into()),
            email: Some("info@shinjuku-naika.example".into()),
            email_allowed: true,
            sender_addresses: Some("rx@shinjuku-naika.example".into()),
            ..Default::default()
        },
    )
    .unwrap()
    .id;
    let other_clinic = pharmacy::clinics::create(
        &mut conn,
        &ctx,
        &pid,
        &pharmacy::domain::clinic::ClinicInput {
            name: "西新宿整形外科".into(),
            email: Some("office@nishi-seikei.example".into()),
            email_allowed: true,
            ..Default::default()
        },
    )
    .unwrap()
    .id;
    drop(conn);
    let patient = app.patient(&pid, "山田 太郎", "ヤマダ タロウ");
    let ph = app.user(&pid, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&ph);
    app.user(&pid, "clerk1", Role::Clerk);
    app.user(&pid, "courier1", Role::Courier);
    let pharm = app.signed_in("pharm1", Some(&secret)).await;
    let clerk = app.signed_in("clerk1", None).await;
    Setup {
        app,
        pid,
        clinic,
        other_clinic,
        patient,
        pharm,
        clerk,
    }
}

pub(crate) async fn setup() -> Setup {
    setup_with(Vec::new()).await
}

pub(crate) async fn post_raw(
    c: &TestClient,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> crate::common::Resp {
    c.send(Method::POST, path, Some(content_type), body, true)
        .await
}

pub(crate) async fn mail(s: &Setup, name: &str) -> crate::common::Resp {
    post_raw(
        &s.clerk,
        &format!("/api/v1/pharmacies/{}/copies/mail", s.pid),
        "message/rfc822",
        fixture(name),
    )
    .await
}

pub(crate) fn transcription(
    s: &Setup,
    issue: chrono::NaiveDate,
    code: &str,
    remarks: &str,
) -> Value {
    json!({
        "patient_id": s.patient,
        "institution_name": "新宿内科クリニック",
        "institution_code": "1312345678",
        "prescriber_name": "内科 一郎",
        "issue_date": issue.to_string(),
        "remarks": remarks,
        "items": [{"rp": 1, "drug_code": code, "dose": "1錠", "usage": "1日1回朝食後", "days": 14}]
    })
}

pub(crate) async fn copy_from_upload(s: &Setup, clinic: &str) -> String {
    let r = post_raw(
        &s.clerk,
        &format!(
            "/api/v1/pharmacies/{}/copies/upload?filename=scan.pdf&clinic_id={clinic}",
            s.pid
        ),
        "application/pdf",
        format!("%PDF-1.4\n{}", uuid::Uuid::new_v4()).into_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// Transcribes a new upload and dispenses it; returns the prescription id.
pub(crate) async fn dispensed_copy(s: &Setup, clinic: &str, code: &str) -> String {
    let copy = copy_from_upload(s, clinic).await;
    let r = s
        .pharm
        .post_json(
            &format!("/api/v1/pharmacies/{}/copies/{copy}/transcribe", s.pid),
            transcription(s, today(&s.app), code, "オンライン対応"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let rx = r.json()["prescription"].clone();
    let id = rx["id"].as_str().unwrap().to_string();
    // A narcotic leaves the stock (麻薬帳簿): receive some, dispense a counted quantity.
    let body = if code == OXYCONTIN {
        let r = s
            .pharm
            .post_json(
                &format!("/api/v1/pharmacies/{}/ledger/entries", s.pid),
                json!({"product": code, "kind": "received", "quantity": 100, "unit": "錠", "lot": "L1", "reference": "卸伝票 1"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        json!({"items": [{"item_id": rx["items"][0]["id"], "quantity": "14錠", "lot_number": "L1"}]})
    } else {
        json!({})
    };
    let r = s
        .pharm
        .post_json(
            &format!("/api/v1/pharmacies/{}/prescriptions/{id}/dispense", s.pid),
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    id
}

/// The original as the copy said it, with a different dose if asked.
pub(crate) fn original_fields(copy_fields: &Value, dose: &str) -> Value {
    let mut f = copy_fields.clone();
    f["items"][0]["dose"] = json!(dose);
    f["items"][0]["drug_name"] = json!("");
    f
}

#[actix_web::test]
async fn real_world_messages_become_copies_triage_or_quarantine() {
    let s = setup_with(vec![
        ("PHARMACY__COPIES__MAX_MESSAGE_BYTES", "20000".into()),
        ("PHARMACY__COPIES__MAX_ATTACHMENT_BYTES", "15000".into()),
        (
            "PHARMACY__COPIES__KEEP_OVERSIZED_UP_TO_BYTES",
            "60000".into(),
        ),
    ])
    .await;
    let base = format!("/api/v1/pharmacies/{}/copies", s.pid);

    // Known clinic, PDF with a Japanese file name.
    let r = mail(&s, "pdf_attachment.eml").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let pdf = r.json();
    assert_eq!(pdf["status"], "new");
    assert_eq!(pdf["channel"], "email");
    assert_eq!(pdf["clinic_id"], s.clinic.as_str());
    assert_eq!(pdf["attachments"][0]["filename"], "処方箋_山田.pdf");
    let id = pdf["id"].as_str().unwrap().to_string();
    let f = s.clerk.get(&format!("{base}/{id}/files/0")).await;
    assert_eq!(f.status, 200);
    assert_eq!(f.header("content-type").as_deref(), Some("application/pdf"));
    assert!(f.body.starts_with(b"%PDF-"));
    // The same message delivered again: one copy.
    let again = mail(&s, "pdf_attachment.eml").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id.as_str());
    assert_eq!(count(&s.app, "prescription_copies"), 1);
    assert!(!s.app.audit("copy.redelivered").is_empty());

    for (name, files, subject) in [
        (
            "iso2022jp_subject.eml",
            1,
            "【処方箋】オンライン診療分の送付",
        ),
        ("shift_jis_body.eml", 1, "処方箋の写し"),
        ("nested_multipart.eml", 1, "Fwd: prescription"),
        ("inline_images.eml", 2, "inline scan"),
    ] {
        let r = mail(&s, name).await;
        assert_eq!(r.status, 201, "{name}: {}", r.text());
        let j = r.json();
        assert_eq!(j["status"], "new", "{name}");
        assert_eq!(j["subject"], subject, "{name}");
        assert_eq!(j["attachments"].as_array().unwrap().len(), files, "{name}");
    }
    let sjis = s
        .clerk
        .get(&format!("{base}?status=new"))
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"] == "処方箋の写し")
        .cloned()
        .unwrap();
    assert!(sjis["body_text"]
        .as_str()
        .unwrap()
        .contains("オンライン対応"));

    // A fax gateway: matched by the sending fax number, not the gateway's address.
    let r = mail(&s, "fax_gateway.eml").await;
    assert_eq!(r.status, 201);
    let fax = r.json();
    assert_eq!(fax["channel"], "fax");
    assert_eq!(fax["fax_number"], "0333331112");
    assert_eq!(fax["clinic_id"], s.clinic.as_str());
    assert_eq!(fax["attachments"][0]["media_type"], "image/tiff");

    // No attachment, or an unknown / unauthenticated sender: triage, never dropped.
    let r = mail(&s, "no_attachment.eml").await;
    assert_eq!(r.json()["status"], "triage");
    assert!(r.json()["reason"].as_str().unwrap().contains("添付"));
    let r = mail(&s, "unknown_sender.eml").await;
    let unknown = r.json();
    assert_eq!(unknown["status"], "triage");
    let reason = unknown["reason"].as_str().unwrap();
    assert!(
        reason.contains("dmarc=fail") && reason.contains("someone@unknown-clinic.example"),
        "{reason}"
    );

    // Truncated: rejected with the reason, raw kept in quarantine, nothing else.
    let before = count(&s.app, "copy_attachments");
    let r = mail(&s, "truncated.eml").await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("途中で切れています"), "{}", r.text());
    assert_eq!(count(&s.app, "copy_attachments"), before);
    let q = s
        .clerk
        .get(&format!("{base}?status=quarantined"))
        .await
        .json();
    assert_eq!(q.as_array().unwrap().len(), 1);
    let qid = q[0]["id"].as_str().unwrap();
    let raw = s.pharm.get(&format!("{base}/{qid}/raw")).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.body, fixture("truncated.eml"));
    // A clerk may not read raw messages; a pharmacist may.
    assert_eq!(s.clerk.get(&format!("{base}/{qid}/raw")).await.status, 403);

    // Oversized: over the message limit → quarantined with the reason; over the
    // keeping limit → 413 and nothing stored.
    let big = {
        let mut m = String::from("From: rx@shinjuku-naika.example\r\nSubject: big\r\nMessage-ID: <big@x>\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        let pdf = [b"%PDF-1.4\n".to_vec(), vec![b'x'; 24_000]].concat();
        use base64::Engine;
        m.push_str(&base64::engine::general_purpose::STANDARD.encode(pdf));
        m.push_str("\r\n--B--\r\n");
        m.into_bytes()
    };
    let r = post_raw(&s.clerk, &format!("{base}/mail"), "message/rfc822", big).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains("大きすぎます"), "{}", r.text());
    assert_eq!(
        s.clerk
            .get(&format!("{base}?status=quarantined"))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let huge = vec![b'a'; 70_000];
    let n = count(&s.app, "prescription_copies");
    let r = post_raw(&s.clerk, &format!("{base}/mail"), "message/rfc822", huge).await;
    assert_eq!(r.status, 413);
    assert_eq!(count(&s.app, "prescription_copies"), n);

    // Triage: accepting needs a clinic and a note; dismissing keeps the record.
    let uid = unknown["id"].as_str().unwrap();
    let r = s
        .clerk
        .post_json(
            &format!("{base}/{uid}/decision"),
            json!({"note": "確認済み"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = s
        .clerk
        .post_json(
            &format!("{base}/{uid}/decision"),
            json!({"dismiss": true, "note": "誤送信。送信元へ連絡し破棄"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "dismissed");
    let nid = s.clerk.get(&format!("{base}?status=triage")).await.json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .clerk
        .post_json(
            &format!("{base}/{nid}/decision"),
            json!({"clinic_id": s.clinic, "note": "電話で確認"}),
        )
        .await;
    assert_eq!(r.json()["status"], "new");

    // Couriers never see copies.
    let courier = s.app.signed_in("courier1", None).await;
    assert_eq!(courier.get(&base).await.status, 403);
    assert_eq!(
        post_raw(
            &courier,
            &format!("{base}/mail"),
            "message/rfc822",
            fixture("pdf_attachment.eml")
        )
        .await
        .status,
        403
    );
    let reports = pharmacy::audit::verify::verify_all(&mut s.app.conn()).unwrap();
    assert!(reports.iter().all(|r| r.result.is_ok()), "{reports:?}");
}

/// `pharmacy mail ingest` as an MTA runs it: the raw message on stdin.
fn ingest_process(app: &TestApp, pharmacy: &str, raw: &[u8]) -> (i32, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pharmacy"))
        .args(["mail", "ingest", "--pharmacy", pharmacy])
        .env("PHARMACY__DATABASE__URL", &app.db.url)
        .env("PHARMACY__COPIES__FILES_DIR", app.files.path())
        .env("PHARMACY__LOG__FILTER", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[actix_web::test]
async fn the_mta_pipe_files_copies_once_and_quarantines_bad_mail() {
    let s = setup().await;
    let (code, out) = ingest_process(&s.app, "1341234567", &fixture("fax_gateway.eml"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("stored copy") && out.contains("(new)"),
        "{out}"
    );
    let (code, out) = ingest_process(&s.app, &s.pid, &fixture("fax_gateway.eml"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("already stored"), "{out}");
    assert_eq!(count(&s.app, "prescription_copies"), 1);
    let (code, out) = ingest_process(&s.app, "1341234567", &fixture("truncated.eml"));
    assert_eq!(code, 0, "kept in quarantine: {out}");
    assert!(out.contains("quarantined"), "{out}");
    assert_eq!(
        count(&s.app, "prescription_copies WHERE status = 'quarantined'"),
        1
    );
    // An unknown pharmacy: the MTA keeps the message and tries again.
    let (code, out) = ingest_process(&s.app, "9999999999", &fixture("fax_gateway.eml"));
    assert_eq!(code, 75, "{out}");
    // The file store holds the raw message under its digest.
    let sha = pharmacy::copies::files::sha256_hex(&fixture("fax_gateway.eml"));
    assert!(s.app.files.path().join(&sha[..2]).join(&sha).exists());
}

#[actix_web::test]
async fn simultaneous_redeliveries_store_one_copy() {
    let s = setup().await;
    let path = format!("/api/v1/pharmacies/{}/copies/mail", s.pid);
    let raw = fixture("iso2022jp_subject.eml");
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(s.app.signed_in("clerk1", None).await);
    }
    let sends = clients
        .iter()
        .map(|c| post_raw(c, &path, "message/rfc822", raw.clone()));
    let results = futures_util::future::join_all(sends).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 200),
        "{statuses:?}"
    );
    let ids: std::collections::HashSet<String> = results
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(count(&s.app, "prescription_copies"), 1);
}

/// A QR code of `data` as a PNG, the way a scanned copy shows its 2D symbol.
fn qr_png(data: &[u8]) -> Vec<u8> {
    let code = qrcode::QrCode::new(data).unwrap();
    let (width, colors, scale) = (code.width(), code.to_colors(), 3usize);
    let size = ((width + 8) * scale) as u32;
    let img = image::GrayImage::from_fn(size, size, |x, y| {
        let (mx, my) = (x as usize / scale, y as usize / scale);
        let dark = (4..width + 4).contains(&mx)
            && (4..width + 4).contains(&my)
            && colors[(my - 4) * width + (mx - 4)] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[actix_web::test]
async fn the_symbol_is_read_from_a_scanned_image_and_faxes_display_as_png() {
    let s = setup().await;
    let text = symbol(&s.app);
    let sjis = encoding_rs::SHIFT_JIS.encode(&text).0.into_owned();
    let r = post_raw(
        &s.clerk,
        &format!(
            "/api/v1/pharmacies/{}/copies/upload?filename=scan.png&clinic_id={}",
            s.pid, s.clinic
        ),
        "image/png",
        qr_png(&sjis),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let copy = r.json()["id"].as_str().unwrap().to_string();
    let found = s
        .pharm
        .get(&format!(
            "/api/v1/pharmacies/{}/copies/{copy}/symbols",
            s.pid
        ))
        .await
        .json();
    assert_eq!(
        found[0].as_str().unwrap().replace("\r\n", "\n"),
        text.trim_end().replace("\r\n", "\n") + "\n"
    );
    // The console's button fills the form from the image.
    let page = s
        .pharm
        .get(&format!("/p/{}/copies/{copy}", s.pid))
        .await
        .text();
    let r = s
        .pharm
        .post_form(
            &format!("/p/{}/copies/{copy}/transcribe", s.pid),
            &[
                ("csrf_token", &form_token(&page)),
                ("action", "image_symbol"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("value=\"内科 一郎\""), "{}", r.text());

    // A fax TIFF (what gateways send) is shown as PNG in the viewer.
    let mut tiff = Vec::new();
    image::GrayImage::from_fn(16, 16, |x, y| image::Luma([((x + y) * 8) as u8]))
        .write_to(
            &mut std::io::Cursor::new(&mut tiff),
            image::ImageFormat::Tiff,
        )
        .unwrap();
    let r = post_raw(
        &s.clerk,
        &format!(
            "/api/v1/pharmacies/{}/copies/upload?filename=fax.tif&clinic_id={}",
            s.pid, s.clinic
        ),
        "image/tiff",
        tiff,
    )
    .await;
    let fax = r.json()["id"].as_str().unwrap().to_string();
    let r = s
        .pharm
        .get(&format!("/p/{}/copies/{fax}/files/0?display=png", s.pid))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").as_deref(), Some("image/png"));
    assert!(r.body.starts_with(b"\x89PNG"));
}
