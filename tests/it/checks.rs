//! Medication checks through the real app: entry, findings from every source,
//! resolution (acknowledge, 疑義照会), re-check after an edit, dispensing.

use pharmacy::domain::role::Role;
use serde_json::{json, Value};

use crate::common::{form_token, TestApp};

const GASTER10: &str = "2325003F1024";
const GASTER20: &str = "2325003F2020";
const WARFARIN: &str = "3332001D1023";
const FLORID_GEL: &str = "6290003X1039";
const PL: &str = "1180107D1131";
const CALONAL: &str = "1141007F1063";

struct Setup {
    app: TestApp,
    pharmacy: String,
    patient: String,
    secret: String,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    pharmacy::drugs::import::import_curated(&mut app.conn(), &app.operator()).unwrap();
    let pharmacy = app.pharmacy("1341234567", "本店");
    let pharm = app.user(&pharmacy, "pharm1", Role::Pharmacist);
    let secret = app.enable_totp(&pharm);
    app.user(&pharmacy, "clerk1", Role::Clerk);
    let patient = app.patient(&pharmacy, "山田 太郎", "ヤマダ タロウ");
    Setup {
        app,
        pharmacy,
        patient,
        secret,
    }
}

fn rx(patient: &str, items: &[(&str, i32)]) -> Value {
    json!({
        "patient_id": patient,
        "institution_name": "新宿内科クリニック",
        "prescriber_name": "医師 一郎",
        "issue_date": "2026-01-05",
        "items": items.iter().enumerate().map(|(i, (code, days))| json!({
            "rp": i + 1, "drug_code": code, "dose": "1錠", "usage": "1日1回夕食後", "days": days
        })).collect::<Vec<_>>()
    })
}

fn kinds(p: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = p["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[actix_web::test]
async fn enter_check_resolve_edit_and_dispense() {
    let Setup {
        app,
        pharmacy: p,
        patient,
        secret,
    } = setup().await;
    let c = app.signed_in("pharm1", Some(&secret)).await;
    let base = format!("/api/v1/pharmacies/{p}/prescriptions");

    // History: famotidine dispensed here; miconazole oral gel declared from elsewhere.
    let r = c.post_json(&base, rx(&patient, &[(GASTER10, 28)])).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let first = r.json();
    assert_eq!(first["open_findings"], 0);
    assert!(first["disclaimer"]
        .as_str()
        .unwrap()
        .contains("not in the checked list"));
    let first_id = first["id"].as_str().unwrap().to_string();
    assert_eq!(
        c.post_json(&format!("{base}/{first_id}/dispense"), json!({}))
            .await
            .status,
        200
    );
    let r = c
        .post_json(
            &format!("/api/v1/pharmacies/{p}/patients/{patient}/declared-medications"),
            json!({"drug_code": FLORID_GEL, "drug_name": "フロリードゲル経口用2%", "origin": "other_pharmacy", "start_date": "2026-01-01"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());

    // New prescription: famotidine again, warfarin, and an unknown code.
    let r = c
        .post_json(
            &base,
            rx(
                &patient,
                &[(GASTER20, 14), (WARFARIN, 14), ("999999999", 7)],
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let second = r.json();
    let id = second["id"].as_str().unwrap().to_string();
    assert_eq!(
        kinds(&second),
        [
            ("contraindicated".to_string(), "pair:CI-001".to_string()),
            (
                "same_ingredient".to_string(),
                "ingredient:ファモチジン/oral".to_string()
            ),
            ("unverifiable".to_string(), "unknown-code".to_string()),
        ]
    );
    let finding = |p: &Value, kind: &str| -> String {
        p["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind && f["status"] == "open")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let contraindicated = second["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "contraindicated")
        .unwrap()
        .clone();
    assert_eq!(contraindicated["other_source"], "declared");
    assert!(contraindicated["rule_source"]
        .as_str()
        .unwrap()
        .contains("添付文書"));

    // Not dispensable while findings are open.
    let r = c
        .post_json(&format!("{base}/{id}/dispense"), json!({}))
        .await;
    assert_eq!(r.status, 409);
    assert!(app
        .audit("prescription.dispensed")
        .iter()
        .any(|a| a.outcome == "denied"));

    // Acknowledge the duplicate; an incomplete inquiry is refused.
    let resolve = |fid: String| format!("{base}/{id}/findings/{fid}/resolve");
    let r = c
        .post_json(
            &resolve(finding(&second, "same_ingredient")),
            json!({"action": "acknowledge", "reason": ""}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = c
        .post_json(
            &resolve(finding(&second, "same_ingredient")),
            json!({"action": "acknowledge", "reason": "前回分は本日で終了（処方医の意図を確認済み）"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c
        .post_json(
            &resolve(finding(&second, "contraindicated")),
            json!({"action": "inquiry", "inquired_at": "2026-01-05T10:30", "method": "phone", "contact": "新宿内科 医師一郎",
                   "question": "ワルファリンとミコナゾール（他院）の併用禁忌", "answer": "ワルファリンを中止", "outcome": "changed"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = r.json();
    assert_eq!(after["open_findings"], 1, "the unknown code is still open");

    // The prescriber changed it: edit the items, which re-runs the check.
    let version = after["version"].as_i64().unwrap();
    let r = c
        .put_json(
            &format!("{base}/{id}/items"),
            json!({"version": version, "items": [
                {"rp": 1, "drug_code": GASTER20, "dose": "1錠", "usage": "1日1回夕食後", "days": 14}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let edited = r.json();
    assert_eq!(
        kinds(&edited),
        [(
            "same_ingredient".to_string(),
            "ingredient:ファモチジン/oral".to_string()
        )]
    );
    let stale = c
        .put_json(
            &format!("{base}/{id}/items"),
            json!({"version": version, "items": []}),
        )
        .await;
    assert!(stale.status == 409 || stale.status == 422);
    let r = c
        .post_json(
            &resolve(finding(&edited, "same_ingredient")),
            json!({"action": "acknowledge", "reason": "前回分からの切替（10mg→20mg）"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .post_json(&format!("{base}/{id}/dispense"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "dispensed");
    assert_eq!(
        c.post_json(&format!("{base}/{id}/dispense"), json!({}))
            .await
            .status,
        409
    );

    // The medication list now shows both sources.
    let meds = c
        .get(&format!(
            "/api/v1/pharmacies/{p}/patients/{patient}/medications"
        ))
        .await
        .json();
    let sources: Vec<&str> = meds
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["source"].as_str().unwrap())
        .collect();
    assert!(sources.contains(&"dispensed") && sources.contains(&"declared"));
    for action in [
        "prescription.created",
        "prescription.items_changed",
        "finding.resolved",
        "prescription.dispensed",
        "medication.declared",
    ] {
        assert!(
            app.audit(action).iter().any(|a| a.outcome == "ok"),
            "{action} audited"
        );
    }
}

#[actix_web::test]
async fn adhoc_checks_combination_products_and_permissions() {
    let Setup {
        app,
        pharmacy: p,
        patient,
        secret,
    } = setup().await;
    let c = app.signed_in("pharm1", Some(&secret)).await;
    let check = format!("/api/v1/pharmacies/{p}/patients/{patient}/checks");
    let r = c
        .post_json(
            &check,
            json!({"items": [{"drug_code": PL, "days": 5}, {"drug_code": CALONAL, "days": 5}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let res = r.json();
    assert_eq!(res["findings"][0]["kind"], "same_ingredient");
    assert_eq!(
        res["findings"][0]["rule"],
        "ingredient:アセトアミノフェン/oral"
    );
    assert!(res["disclaimer"]
        .as_str()
        .unwrap()
        .contains("not in the checked list"));
    let r = c.post_json(&check, json!({"items": []})).await;
    assert_eq!(r.status, 422);

    let clerk = app.signed_in("clerk1", None).await;
    assert_eq!(
        clerk
            .post_json(&check, json!({"items": [{"drug_code": PL, "days": 5}]}))
            .await
            .status,
        403
    );
    let r = clerk
        .post_json(
            &format!("/api/v1/pharmacies/{p}/prescriptions"),
            rx(&patient, &[(PL, 5)]),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        clerk
            .get(&format!(
                "/api/v1/pharmacies/{p}/patients/{patient}/medications"
            ))
            .await
            .status,
        200
    );

    let r = c
        .post_json(
            &format!("/api/v1/pharmacies/{p}/prescriptions"),
            json!({"patient_id": patient, "items": [{"drug_code": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"]["fields"]["items[0].drug_code"].is_string());

    // The drug master through the API.
    let found = c
        .get("/api/v1/drugs?q=%E3%81%8C%E3%81%99%E3%81%9F%E3%83%BC")
        .await
        .json();
    assert!(found
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["yj_code"] == GASTER10));
    assert_eq!(c.get("/api/v1/drugs/000000000").await.status, 404);
}

#[actix_web::test]
async fn the_console_enters_a_prescription_and_shows_the_check_panel() {
    let Setup {
        app,
        pharmacy: p,
        patient,
        secret,
    } = setup().await;
    let c = app.signed_in("pharm1", Some(&secret)).await;
    let page = c
        .get(&format!("/p/{p}/prescriptions/new?patient_id={patient}"))
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    let token = form_token(&page.text());
    let r = c
        .post_form(
            &format!("/p/{p}/prescriptions"),
            &[
                ("csrf_token", &token),
                ("patient_id", &patient),
                ("institution_name", "新宿内科"),
                ("prescriber_name", "医師 一郎"),
                ("issue_date", "2026-01-05"),
                ("drug_code_1", PL),
                ("dose_1", "1g"),
                ("usage_1", "1日3回毎食後"),
                ("days_1", "5"),
                ("drug_code_2", CALONAL),
                ("dose_2", "1錠"),
                ("usage_2", "疼痛時"),
                ("days_2", "5"),
                ("as_needed_2", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let detail = c.get(&r.header("location").unwrap()).await;
    assert_eq!(detail.status, 200);
    let html = detail.text();
    assert!(html.contains("同一成分（アセトアミノフェン）"), "{html}");
    assert!(html.contains("確認したリストにない") || html.contains("not in the checked list"));
    let drugs = c
        .get(&format!(
            "/p/{p}/drugs?q=%E3%82%AC%E3%82%B9%E3%82%BF%E3%83%BC"
        ))
        .await;
    assert!(drugs.text().contains("ガスター錠10mg"));
    let patient_page = c.get(&format!("/p/{p}/patients/{patient}")).await;
    assert!(patient_page.text().contains("服用中の薬"));
}
