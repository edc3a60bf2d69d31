//! Console pages for clinical work: drug master search, prescription entry and
//! editing, the check panel with resolution forms, dispensing, declared medicines.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::see_other;
use crate::domain::dispensing::{DispenseInput, DispensedLineInput};
use crate::domain::fields::FieldErrors;
use crate::domain::prescription::{ItemInput, PrescriptionInput, ResolutionInput};
use crate::domain::role::Permission;
use crate::error::{AppError, PageError};
use crate::medications::{self, DeclaredInput};
use crate::prescriptions::{self, review};
use crate::web::extract::StaffPage;
use crate::web::pages::{html, DrugsPage, ItemRow, Layout, PrescriptionFormPage, PrescriptionPage};
use crate::web::AppState;

/// Rows in the entry form.
const ROWS: usize = 10;

/// Search query.
#[derive(Debug, Default, Deserialize)]
pub struct Q {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub patient_id: String,
}

/// The drug master search page.
pub async fn drugs(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    q: web::Query<Q>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let query = q.into_inner().q;
    let q2 = query.clone();
    let drugs = state
        .db(move |conn| crate::drugs::search(conn, &q2, 100).map_err(AppError::from))
        .await?;
    Ok(html(&DrugsPage {
        layout: Layout::for_session("医薬品マスター", &s.session, Some(&pid), state.demo_mode),
        q: query,
        drugs,
    }))
}

fn rows_from(form: &HashMap<String, String>) -> (Vec<ItemRow>, Vec<ItemInput>) {
    let get = |k: String| form.get(&k).cloned().unwrap_or_default();
    let mut rows = Vec::new();
    let mut items = Vec::new();
    for n in 1..=ROWS {
        let row = ItemRow {
            n,
            rp: get(format!("rp_{n}")),
            drug_code: get(format!("drug_code_{n}")),
            dose: get(format!("dose_{n}")),
            usage: get(format!("usage_{n}")),
            days: get(format!("days_{n}")),
            as_needed: form.contains_key(&format!("as_needed_{n}")),
        };
        if !row.drug_code.trim().is_empty() {
            items.push(ItemInput {
                rp: row.rp.trim().parse().unwrap_or(n as i32),
                drug_code: row.drug_code.clone(),
                dose: row.dose.clone(),
                usage: row.usage.clone(),
                days: row.days.trim().parse().unwrap_or(0),
                as_needed: row.as_needed,
            });
        }
        rows.push(row);
    }
    (rows, items)
}

fn blank_rows() -> Vec<ItemRow> {
    (1..=ROWS)
        .map(|n| ItemRow {
            n,
            rp: n.to_string(),
            ..ItemRow::default()
        })
        .collect()
}

/// The entry form.
pub async fn new_form(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    q: web::Query<Q>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let patient_id = q.into_inner().patient_id;
    let (ctx, p2, pat) = (s.ctx.clone(), pid.clone(), patient_id.clone());
    let patient = state
        .db(move |conn| crate::patients::get(conn, &ctx, &p2, &pat))
        .await?;
    Ok(html(&PrescriptionFormPage {
        layout: Layout::for_session("処方箋の入力", &s.session, Some(&pid), state.demo_mode),
        edit: false,
        action: format!("/p/{pid}/prescriptions"),
        pharmacy_id: pid,
        patient_id,
        patient_name: patient.name_kanji,
        institution_name: String::new(),
        prescriber_name: String::new(),
        issue_date: s.ctx.today().to_string(),
        version: 0,
        rows: blank_rows(),
        errors: FieldErrors::new(),
    }))
}

/// Saves a new prescription and shows its check.
pub async fn create(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let form = form.into_inner();
    let (rows, items) = rows_from(&form);
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let input = PrescriptionInput {
        patient_id: get("patient_id"),
        institution_name: get("institution_name"),
        prescriber_name: get("prescriber_name"),
        issue_date: get("issue_date"),
        items,
    };
    let (ctx, policy, p2, inp) = (
        s.ctx.clone(),
        state.settings.currency_policy(),
        pid.clone(),
        input.clone(),
    );
    match state
        .db(move |conn| prescriptions::create_manual(conn, &ctx, &p2, &inp, &policy))
        .await
    {
        Ok(p) => Ok(see_other(&format!(
            "/p/{pid}/prescriptions/{}",
            p.header.id
        ))),
        Err(AppError::Validation(errors)) => {
            let mut resp = html(&PrescriptionFormPage {
                layout: Layout::for_session(
                    "処方箋の入力",
                    &s.session,
                    Some(&pid),
                    state.demo_mode,
                ),
                edit: false,
                action: format!("/p/{pid}/prescriptions"),
                pharmacy_id: pid,
                patient_id: input.patient_id,
                patient_name: String::new(),
                institution_name: input.institution_name,
                prescriber_name: input.prescriber_name,
                issue_date: input.issue_date,
                version: 0,
                rows,
                errors,
            });
            *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

fn status_label(s: &str) -> &'static str {
    match s {
        "checked" => "チェック済み（調剤前）",
        "dispensed" => "調剤済み",
        "cancelled" => "中止",
        _ => "不明",
    }
}

/// A prescription with its check panel.
pub async fn detail(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let can_dispense = s.ctx.actor.require(&pid, Permission::Dispense).is_ok();
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    let p = state
        .db(move |conn| prescriptions::get(conn, &ctx, &p2, &id))
        .await?;
    Ok(html(&PrescriptionPage {
        layout: Layout::for_session("処方箋", &s.session, Some(&pid), state.demo_mode),
        status_label: status_label(&p.header.status),
        can_dispense,
        p,
    }))
}

/// The item edit form (after a 疑義照会 changed the prescription).
pub async fn edit_form(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), id.clone());
    let p = state
        .db(move |conn| prescriptions::get(conn, &ctx, &p2, &id2))
        .await?;
    let mut rows = blank_rows();
    for (row, it) in rows.iter_mut().zip(&p.items) {
        row.rp = it.rp_number.to_string();
        row.drug_code = it.drug_code.clone();
        row.dose = it.dose.clone();
        row.usage = it.usage.clone();
        row.days = it.days.to_string();
        row.as_needed = it.as_needed;
    }
    Ok(html(&PrescriptionFormPage {
        layout: Layout::for_session("処方内容の修正", &s.session, Some(&pid), state.demo_mode),
        edit: true,
        action: format!("/p/{pid}/prescriptions/{id}/items"),
        pharmacy_id: pid,
        patient_id: p.header.patient_id.clone(),
        patient_name: String::new(),
        institution_name: p.header.institution_name.clone(),
        prescriber_name: p.header.prescriber_name.clone(),
        issue_date: p.header.issue_date.to_string(),
        version: p.header.version,
        rows,
        errors: FieldErrors::new(),
    }))
}

/// Saves edited items (re-runs the check).
pub async fn update_items(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let form = form.into_inner();
    let (_, items) = rows_from(&form);
    let version: i32 = form
        .get("version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (ctx, policy, p2, id2) = (
        s.ctx.clone(),
        state.settings.currency_policy(),
        pid.clone(),
        id.clone(),
    );
    state
        .db(move |conn| {
            prescriptions::replace_items(conn, &ctx, &p2, &id2, version, &items, &policy)
        })
        .await?;
    Ok(see_other(&format!("/p/{pid}/prescriptions/{id}")))
}

/// Records a finding's resolution.
pub async fn resolve(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String, String)>,
    form: web::Form<ResolutionInput>,
) -> Result<HttpResponse, PageError> {
    let (pid, id, fid) = path.into_inner();
    let (ctx, p2, id2, input) = (s.ctx.clone(), pid.clone(), id.clone(), form.into_inner());
    state
        .db(move |conn| review::resolve(conn, &ctx, &p2, &id2, &fid, &input))
        .await?;
    Ok(see_other(&format!("/p/{pid}/prescriptions/{id}")))
}

/// The dispensing form's fields: `code:<item>`, `qty:<item>`, `lot:<item>`,
/// `exp:<item>` per prescribed item, and `message` (伝達事項).
fn dispense_input(form: &HashMap<String, String>) -> DispenseInput {
    let mut ids: Vec<&str> = form
        .keys()
        .filter_map(|k| k.split_once(':').map(|(_, id)| id))
        .collect();
    ids.sort();
    ids.dedup();
    let field = |prefix: &str, id: &str| {
        form.get(&format!("{prefix}:{id}"))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    DispenseInput {
        items: ids
            .into_iter()
            .map(|id| DispensedLineInput {
                item_id: id.to_string(),
                drug_code: field("code", id),
                quantity: field("qty", id),
                lot_number: field("lot", id),
                lot_expiry: field("exp", id),
            })
            .collect(),
        message_to_prescriber: form.get("message").cloned(),
    }
}

/// Records what was dispensed (queues the result registration for e-prescriptions).
pub async fn dispense(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let input = dispense_input(&form.into_inner());
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), id.clone());
    let settings = state.dispense_settings();
    state
        .db(move |conn| prescriptions::dispense(conn, &ctx, &p2, &id2, &input, &settings))
        .await?;
    Ok(see_other(&format!("/p/{pid}/prescriptions/{id}")))
}

/// Declared medicine form fields.
#[derive(Debug, Deserialize)]
pub struct DeclaredForm {
    #[serde(default)]
    pub drug_code: String,
    pub drug_name: String,
    pub origin: String,
    pub start_date: String,
    #[serde(default)]
    pub days: String,
}

/// Adds a declared medicine.
pub async fn declare(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<DeclaredForm>,
) -> Result<HttpResponse, PageError> {
    let (pid, patient) = path.into_inner();
    let f = form.into_inner();
    let input = DeclaredInput {
        drug_code: Some(f.drug_code).filter(|c| !c.trim().is_empty()),
        drug_name: f.drug_name,
        origin: f.origin,
        start_date: f.start_date,
        days: f.days.trim().parse().ok(),
        as_needed: false,
        note: String::new(),
    };
    let (ctx, p2, pat) = (s.ctx.clone(), pid.clone(), patient.clone());
    state
        .db(move |conn| medications::declare(conn, &ctx, &p2, &pat, &input))
        .await?;
    Ok(see_other(&format!("/p/{pid}/patients/{patient}")))
}
