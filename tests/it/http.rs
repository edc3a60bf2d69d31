//! Cross-cutting HTTP behaviour: health, OpenAPI, security headers, unknown routes.

use pharmacy::domain::role::Role;

use crate::common::TestApp;

#[actix_web::test]
async fn health_reports_the_database() {
    let app = TestApp::spawn().await;
    let r = app.client().get("/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
}

#[actix_web::test]
async fn openapi_describes_every_api_route() {
    let app = TestApp::spawn().await;
    let doc = app.client().get("/api/openapi.json").await.json();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/session",
        "/api/v1/session/second-factor",
        "/api/v1/account/second-factor",
        "/api/v1/account/password",
        "/api/v1/pharmacies/{pharmacy_id}/patients",
        "/api/v1/pharmacies/{pharmacy_id}/patients/{patient_id}",
        "/api/v1/pharmacies/{pharmacy_id}/users",
        "/api/v1/pharmacies/{pharmacy_id}/audit",
        "/api/v1/pharmacies/{pharmacy_id}/notices",
        "/api/v1/pharmacies/{pharmacy_id}/notices/{notice_id}/resend",
        "/api/v1/pharmacies/{pharmacy_id}/notices/test",
        "/api/v1/drugs",
        "/api/v1/pharmacies/{pharmacy_id}/patients/{patient_id}/checks",
        "/api/v1/pharmacies/{pharmacy_id}/prescriptions",
        "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/findings/{finding_id}/resolve",
        "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/dispense",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
}

#[actix_web::test]
async fn security_headers_and_no_inline_scripts() {
    let app = TestApp::spawn().await;
    let r = app.client().get("/login").await;
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert!(r.header("referrer-policy").is_some());
    assert!(r.header("x-request-id").is_some());
    assert!(
        r.header("strict-transport-security").is_none(),
        "no HSTS without TLS"
    );
    assert!(!r.text().contains("<script"));
    let css = app.client().get("/static/app.css").await;
    assert_eq!(css.status, 200);
}

#[actix_web::test]
async fn unknown_routes_answer_404_in_the_right_format() {
    let app = TestApp::spawn().await;
    let r = app.client().get("/api/v1/nothing-here").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "not_found");
    let r = app.client().get("/nothing-here").await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("<html"));
}

#[actix_web::test]
async fn console_pages_render_for_each_role() {
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let id = app.patient(&p, "山田 太郎", "ヤマダ タロウ");
    let c = app.signed_in("clerk1", None).await;
    for path in [
        format!("/p/{p}"),
        format!("/p/{p}/patients"),
        format!("/p/{p}/patients/new"),
        format!("/p/{p}/patients/{id}"),
        format!("/p/{p}/patients/{id}/edit"),
        "/account".to_string(),
    ] {
        let r = c.get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    assert_eq!(c.get(&format!("/p/{p}/users")).await.status, 403);
    // Not signed in: redirected to sign-in.
    let r = app.client().get(&format!("/p/{p}/patients")).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").as_deref(), Some("/login"));
}

/// `pharmacy serve` with TLS configured: HTTPS only, TLS 1.2+, HSTS.
#[test]
fn serve_speaks_tls_with_hsts_and_refuses_old_protocols() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is needed to make a test certificate");
    assert!(ok.success());
    let db = crate::common::TestDb::new();
    let port = crate::smtp::free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_pharmacy"))
        .arg("serve")
        .env("PHARMACY__DATABASE__URL", &db.url)
        .env("PHARMACY__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("PHARMACY__SERVER__TLS__CERT_FILE", &cert)
        .env("PHARMACY__SERVER__TLS__KEY_FILE", &key)
        .env("PHARMACY__JOBS__ENABLED", "false")
        .env("PHARMACY__LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}/healthz");
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args(["-sk", "-i", "--max-time", "5"])
            .args(extra)
            .arg(&url)
            .output()
            .expect("curl is needed for the TLS test")
    };
    let mut out = curl(&[]);
    for _ in 0..100 {
        if out.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        out = curl(&[]);
    }
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let old = curl(&["--tls-max", "1.1"]);
    let plain = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .arg(format!("http://127.0.0.1:{port}/healthz"))
        .output()
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(text.contains(" 200"), "{text}");
    assert!(
        text.contains("strict-transport-security: max-age=63072000"),
        "{text}"
    );
    assert!(!old.status.success(), "TLS 1.1 must be refused");
    assert_ne!(
        String::from_utf8_lossy(&plain.stdout),
        "200",
        "no plain HTTP on the TLS port"
    );
}

/// The same Idempotency-Key and body: one effect, the same answer; another body: 409.
#[actix_web::test]
async fn idempotency_keys_replay_and_refuse_changed_bodies() {
    use awc::http::Method;
    let app = TestApp::spawn().await;
    let p = app.pharmacy("1341234567", "本店");
    app.user(&p, "clerk1", Role::Clerk);
    let c = app.signed_in("clerk1", None).await;
    let url = format!("/api/v1/pharmacies/{p}/patients");
    let body = serde_json::json!({"name_kanji": "山田 太郎", "name_kana": "ヤマダ タロウ", "birth_date": "1980-01-01", "sex": "male"});
    let send = |b: serde_json::Value, key: &'static str| {
        let c = &c;
        let url = url.clone();
        async move {
            c.send_with_headers(
                Method::POST,
                &url,
                b.to_string().into_bytes(),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let first = send(body.clone(), "k-1").await;
    assert_eq!(first.status, 201);
    let again = send(body.clone(), "k-1").await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the same answer");
    assert_eq!(
        again.header("idempotency-replayed").as_deref(),
        Some("true")
    );
    let mut other = body.clone();
    other["name_kanji"] = serde_json::json!("佐藤 花子");
    assert_eq!(send(other, "k-1").await.status, 409);
    assert_eq!(app.audit("patient.created").len(), 1, "one effect");
    assert_eq!(
        send(body, "k-2").await.status,
        201,
        "a new key is a new request"
    );
}
