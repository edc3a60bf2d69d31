//! Console pages for originals of copy-based prescriptions: the originals awaited,
//! the reconciliation screen (register, resolve differences, storage place), the
//! handover (交付) and staff tasks.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};

use super::see_other;
use crate::copies::originals::{self, OriginalInput, ResolveInput};
use crate::copies::CopyError;
use crate::domain::originals::RxFields;
use crate::domain::role::Permission;
use crate::error::{AppError, PageError};
use crate::web::copy_pages::{OriginalPage, OriginalsPage, TasksPage, TranscriptionForm};
use crate::web::extract::StaffPage;
use crate::web::pages::{html, Layout};
use crate::web::AppState;

/// The originals awaited, by due date.
pub async fn awaited(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    let rows = state
        .db(move |conn| originals::awaited(conn, &ctx, &p2))
        .await?;
    Ok(html(&OriginalsPage {
        layout: Layout::for_session("原本待ち", &s.session, Some(&pid), state.demo_mode),
        pharmacy_id: pid,
        rows,
    }))
}

async fn original_page(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    rx_id: &str,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (ctx, p2, id2) = (s.ctx.clone(), pid.to_string(), rx_id.to_string());
    let p = state
        .db(move |conn| crate::prescriptions::get(conn, &ctx, &p2, &id2))
        .await?;
    let patient_name = p
        .copy
        .as_ref()
        .map(|c| c.copy_fields.patient_name.clone())
        .unwrap_or_default();
    let Some(v) = p.copy else {
        return Err(AppError::NotFound("写しから受け付けた処方箋ではありません".into()).into());
    };
    let original = v.original_fields.clone().unwrap_or_default();
    let n = v.copy_fields.items.len().max(original.items.len());
    let side_by_side = v
        .copy_fields
        .labeled(n)
        .into_iter()
        .zip(original.labeled(n))
        .map(|((label, a), (_, b))| {
            let differs = v.original_fields.is_some()
                && v.discrepancies
                    .iter()
                    .any(|d| d.label == label || label.starts_with(&d.label));
            (label, a, b, differs)
        })
        .collect();
    Ok(html(&OriginalPage {
        layout: Layout::for_session("原本の照合", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        rx_id: rx_id.to_string(),
        patient_name,
        can_resolve: s.ctx.actor.require(pid, Permission::Dispense).is_ok(),
        v,
        error,
        side_by_side,
    }))
}

/// The reconciliation screen.
pub async fn original(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    original_page(&state, &s, &pid, &id, None).await
}

fn original_input(f: &HashMap<String, String>) -> OriginalInput {
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let symbol = Some(g("symbol")).filter(|s| !s.trim().is_empty());
    let form = TranscriptionForm::from_fields(f);
    let fields = symbol.is_none().then(|| RxFields {
        patient_name: g("patient_name"),
        patient_birth_date: g("patient_birth_date"),
        insurer_number: g("insurer_number"),
        insured_symbol: g("insured_symbol"),
        insured_number: g("insured_number"),
        institution_code: g("institution_code"),
        institution_name: g("institution_name"),
        prescriber_name: g("prescriber_name"),
        issue_date: g("issue_date"),
        remarks: g("remarks"),
        items: form
            .items
            .iter()
            .filter(|r| !r.code.trim().is_empty())
            .map(|r| crate::domain::originals::RxItemFields {
                rp: r.rp.trim().parse().unwrap_or(1),
                drug_code: r.code.trim().to_string(),
                drug_name: String::new(),
                dose: r.dose.clone(),
                usage: r.usage.clone(),
                days: r.days.trim().parse().unwrap_or(0),
            })
            .collect(),
    });
    OriginalInput {
        symbol,
        fields,
        storage_place: g("storage_place"),
    }
}

/// Registers the original and compares it.
pub async fn register_original(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let input = original_input(&form.into_inner());
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), id.clone());
    let outcome = state
        .db(move |conn| Ok::<_, AppError>(originals::register(conn, &ctx, &p2, &id2, &input)))
        .await?;
    match outcome {
        Ok(_) => Ok(see_other(&format!("/p/{pid}/prescriptions/{id}/original"))),
        Err(e @ (CopyError::Invalid(_) | CopyError::WrongState(_))) => {
            let msg = match &e {
                CopyError::Invalid(f) => {
                    f.0.iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join(" / ")
                }
                other => other.to_string(),
            };
            original_page(&state, &s, &pid, &id, Some(msg)).await
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}

/// Resolves one difference.
pub async fn resolve(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id, did) = path.into_inner();
    let f = form.into_inner();
    let input = ResolveInput {
        clinic_contacted: f.contains_key("clinic_contacted"),
        what_changed: f.get("what_changed").cloned().unwrap_or_default(),
        patient_contact_needed: f.contains_key("patient_contact_needed"),
    };
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), id.clone());
    let outcome = state
        .db(move |conn| Ok::<_, AppError>(originals::resolve(conn, &ctx, &p2, &id2, &did, &input)))
        .await?;
    match outcome {
        Ok(_) => Ok(see_other(&format!("/p/{pid}/prescriptions/{id}/original"))),
        Err(e @ (CopyError::Invalid(_) | CopyError::WrongState(_))) => {
            let msg = AppError::from(e).public_message();
            original_page(&state, &s, &pid, &id, Some(msg)).await
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}

/// Records where the original is kept.
pub async fn storage(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let place = form
        .into_inner()
        .remove("storage_place")
        .unwrap_or_default();
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), id.clone());
    state
        .db(move |conn| originals::set_storage(conn, &ctx, &p2, &id2, &place))
        .await?;
    Ok(see_other(&format!("/p/{pid}/prescriptions/{id}/original")))
}

/// Records the handover; the refusal (with reasons) is shown as an error page.
pub async fn hand_over(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), id.clone());
    state
        .db(move |conn| crate::prescriptions::hand_over(conn, &ctx, &p2, &id2))
        .await?;
    Ok(see_other(&format!("/p/{pid}/prescriptions/{id}")))
}

/// Open staff tasks.
pub async fn tasks(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    let tasks = state
        .db(move |conn| crate::tasks::open(conn, &ctx, &p2))
        .await?;
    Ok(html(&TasksPage {
        layout: Layout::for_session("タスク", &s.session, Some(&pid), state.demo_mode),
        pharmacy_id: pid,
        tasks,
    }))
}

/// Marks a task done.
pub async fn task_done(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let note = form.into_inner().remove("note").unwrap_or_default();
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    state
        .db(move |conn| crate::tasks::complete(conn, &ctx, &p2, &id, &note))
        .await?;
    Ok(see_other(&format!("/p/{pid}/tasks")))
}
