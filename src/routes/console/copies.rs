//! Console pages for prescription copies: the intake inbox with uploads, the copy
//! screen (viewer beside triage and the transcription form, with 2D-symbol, patient
//! and drug search steps that keep what was typed), the originals awaited, the
//! reconciliation screen, staff tasks and the handover.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::{web, HttpResponse};
use futures_util::StreamExt;

use super::see_other;
use crate::copies::originals::{self, OriginalInput, ResolveInput};
use crate::copies::{self, ingest, transcribe, CopyError};
use crate::domain::fields::FieldErrors;
use crate::domain::originals::RxFields;
use crate::domain::patient::PatientSearch;
use crate::domain::role::Permission;
use crate::domain::transcription::TranscriptionInput;
use crate::error::{AppError, PageError};
use crate::routes::api::copies::file_response;
use crate::web::copy_pages::{
    CopiesPage, CopyPage, OriginalPage, OriginalsPage, TasksPage, TranscriptionForm,
};
use crate::web::extract::StaffPage;
use crate::web::pages::{html, Layout};
use crate::web::AppState;

async fn inbox(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (ctx, p2) = (s.ctx.clone(), pid.to_string());
    let (all, clinics) = state
        .db(move |conn| {
            let all = copies::list(conn, &ctx, &p2, &[])?;
            let clinics = crate::clinics::list(conn, &ctx, &p2).map_err(AppError::from)?;
            Ok::<_, AppError>((all, clinics))
        })
        .await?;
    let pick = |st: &str| -> Vec<_> {
        all.iter()
            .filter(|(c, _)| c.status == st)
            .cloned()
            .collect()
    };
    Ok(html(&CopiesPage {
        layout: Layout::for_session("写し受付", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        new: pick("new"),
        triage: pick("triage"),
        quarantined: pick("quarantined"),
        done: all
            .iter()
            .filter(|(c, _)| matches!(c.status.as_str(), "transcribed" | "dismissed"))
            .take(30)
            .cloned()
            .collect(),
        clinics,
        error,
    }))
}

/// The intake inbox.
pub async fn list(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    inbox(&state, &s, &pid, None).await
}

/// Upload of a scanned copy (multipart: `file`, optional `clinic_id`).
pub async fn upload(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    mut form: Multipart,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let limit = state.settings.raw.copies.max_attachment_bytes;
    let (mut filename, mut bytes, mut clinic_id) = (String::new(), Vec::new(), None);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| AppError::BadRequest(format!("upload: {e}")))?;
        let name = field.name().unwrap_or_default().to_string();
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(format!("upload: {e}")))?;
            if value.len() + chunk.len() > limit + 1 {
                return inbox(
                    &state,
                    &s,
                    &pid,
                    Some(CopyError::TooLarge(limit).to_string()),
                )
                .await;
            }
            value.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "file" => {
                filename = field
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .unwrap_or_default()
                    .to_string();
                bytes = value;
            }
            "clinic_id" => clinic_id = Some(String::from_utf8_lossy(&value).to_string()),
            _ => {}
        }
    }
    let (ctx, store, limits, p2) = (
        s.ctx.clone(),
        state.file_store(),
        state.settings.raw.copies.limits(),
        pid.clone(),
    );
    let outcome = state
        .db(move |conn| {
            Ok::<_, AppError>(ingest::receive_upload(
                conn,
                &store,
                &ctx,
                &p2,
                &filename,
                &bytes,
                clinic_id.as_deref(),
                &limits,
            ))
        })
        .await?;
    match outcome {
        Ok(r) => Ok(see_other(&format!("/p/{pid}/copies/{}", r.copy.copy.id))),
        Err(e @ (CopyError::Invalid(_) | CopyError::TooLarge(_))) => {
            let msg = match &e {
                CopyError::Invalid(f) => f.0.values().cloned().collect::<Vec<_>>().join(" "),
                other => other.to_string(),
            };
            inbox(&state, &s, &pid, Some(msg)).await
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn copy_page(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    id: &str,
    form: Option<TranscriptionForm>,
    error: Option<String>,
    field_errors: FieldErrors,
    search: (Option<String>, Option<String>),
) -> Result<HttpResponse, PageError> {
    let (ctx, p2, id2) = (s.ctx.clone(), pid.to_string(), id.to_string());
    let (d, clinics, patients_found, drugs_found) = state
        .db(move |conn| {
            let d = copies::get(conn, &ctx, &p2, &id2)?;
            let clinics = crate::clinics::list(conn, &ctx, &p2).map_err(AppError::from)?;
            let patients = match search.0.filter(|q| !q.trim().is_empty()) {
                Some(q) => {
                    let crit = PatientSearch {
                        kana: Some(q),
                        ..PatientSearch::default()
                    };
                    crate::patients::search(conn, &ctx, &p2, &crit, 0, 20)
                        .map_err(AppError::from)?
                }
                None => Vec::new(),
            };
            let drugs = match search.1.filter(|q| !q.trim().is_empty()) {
                Some(q) => crate::drugs::search(conn, &q, 20)?,
                None => Vec::new(),
            };
            Ok::<_, AppError>((d, clinics, patients, drugs))
        })
        .await?;
    let can_transcribe = s.ctx.actor.require(pid, Permission::Dispense).is_ok()
        && matches!(d.copy.status.as_str(), "new" | "transcribed");
    let form = form.unwrap_or_else(|| TranscriptionForm::blank(d.copy.clinic_id.as_deref()));
    Ok(html(&CopyPage {
        layout: Layout::for_session("処方箋の写し", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        d,
        clinics,
        can_transcribe,
        form,
        error,
        field_errors,
        patients_found,
        drugs_found,
    }))
}

/// The copy screen.
pub async fn detail(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    copy_page(
        &state,
        &s,
        &pid,
        &id,
        None,
        None,
        FieldErrors::new(),
        (None, None),
    )
    .await
}

/// The transcription form's buttons: read the 2D symbol, search patients or
/// drugs (the form is shown again as typed), or save.
pub async fn transcribe(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let fields = form.into_inner();
    let mut f = TranscriptionForm::from_fields(&fields);
    let action = fields.get("action").map(String::as_str).unwrap_or("save");
    match action {
        "symbol" => {
            let (error, errors) = match TranscriptionInput::from_symbol(&f.symbol) {
                Ok(i) => {
                    f.fill_from(&i);
                    (None, FieldErrors::new())
                }
                Err(m) => {
                    let mut e = FieldErrors::new();
                    e.add("symbol", m.clone());
                    (Some(m), e)
                }
            };
            copy_page(&state, &s, &pid, &id, Some(f), error, errors, (None, None)).await
        }
        "image_symbol" => {
            let (ctx, store, p2, id2) =
                (s.ctx.clone(), state.file_store(), pid.clone(), id.clone());
            let found = state
                .db(move |conn| copies::symbols_in_files(conn, &store, &ctx, &p2, &id2))
                .await?;
            let filled = found
                .iter()
                .find_map(|t| TranscriptionInput::from_symbol(t).ok());
            let error = match filled {
                Some(i) => {
                    f.symbol = i.symbol.clone().unwrap_or_default();
                    f.fill_from(&i);
                    None
                }
                None if found.is_empty() => Some(
                    "画像から2次元シンボルを読み取れませんでした。コードリーダーで読み取ってください (no symbol found)".to_string(),
                ),
                None => Some("読み取った2次元シンボルの内容を処方箋として読めません (symbol unreadable)".to_string()),
            };
            copy_page(
                &state,
                &s,
                &pid,
                &id,
                Some(f),
                error,
                FieldErrors::new(),
                (None, None),
            )
            .await
        }
        "patient_search" => {
            let q = Some(f.patient_q.clone());
            copy_page(
                &state,
                &s,
                &pid,
                &id,
                Some(f),
                None,
                FieldErrors::new(),
                (q, None),
            )
            .await
        }
        "drug_search" => {
            let q = Some(f.drug_q.clone());
            copy_page(
                &state,
                &s,
                &pid,
                &id,
                Some(f),
                None,
                FieldErrors::new(),
                (None, q),
            )
            .await
        }
        _ => {
            let (ctx, policy, p2, id2, input) = (
                s.ctx.clone(),
                state.settings.currency_policy(),
                pid.clone(),
                id.clone(),
                f.to_input(),
            );
            let outcome = state
                .db(move |conn| {
                    Ok::<_, AppError>(transcribe::transcribe(
                        conn, &ctx, &p2, &id2, &input, &policy,
                    ))
                })
                .await?;
            match outcome {
                Ok(t) => Ok(see_other(&format!(
                    "/p/{pid}/prescriptions/{}",
                    t.prescription.header.id
                ))),
                Err(CopyError::Invalid(errors)) => {
                    let msg = "入力内容を確認してください (invalid input)".to_string();
                    copy_page(
                        &state,
                        &s,
                        &pid,
                        &id,
                        Some(f),
                        Some(msg),
                        errors,
                        (None, None),
                    )
                    .await
                }
                Err(e @ CopyError::WrongState(_)) => {
                    let msg = e.to_string();
                    copy_page(
                        &state,
                        &s,
                        &pid,
                        &id,
                        Some(f),
                        Some(msg),
                        FieldErrors::new(),
                        (None, None),
                    )
                    .await
                }
                Err(e) => Err(AppError::from(e).into()),
            }
        }
    }
}

/// Triage: accept with a clinic, or dismiss, with a note.
pub async fn decide(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let f = form.into_inner();
    let dismiss = f.get("decision").is_some_and(|d| d == "dismiss");
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), id.clone());
    let outcome = state
        .db(move |conn| {
            Ok::<_, AppError>(copies::decide(
                conn,
                &ctx,
                &p2,
                &id2,
                f.get("clinic_id").map(String::as_str),
                dismiss,
                f.get("note").map(String::as_str).unwrap_or_default(),
            ))
        })
        .await?;
    match outcome {
        Ok(_) => Ok(see_other(&format!("/p/{pid}/copies/{id}"))),
        Err(e @ (CopyError::Invalid(_) | CopyError::WrongState(_))) => {
            let msg = AppError::from(e).public_message();
            copy_page(
                &state,
                &s,
                &pid,
                &id,
                None,
                Some(msg),
                FieldErrors::new(),
                (None, None),
            )
            .await
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}

/// A file of a copy, inline for the viewer; `?display=png` shows a TIFF (fax) page
/// as PNG, which every browser can display.
pub async fn file(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String, i32)>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id, pos) = path.into_inner();
    let (ctx, store) = (s.ctx, state.file_store());
    let (name, media, bytes) = state
        .db(move |conn| copies::file(conn, &store, &ctx, &pid, &id, pos))
        .await?;
    if media == "image/tiff" && q.get("display").is_some_and(|d| d == "png") {
        if let Some(png) = web::block(move || copies::images::tiff_as_png(&bytes))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
        {
            return Ok(file_response(&format!("{name}.png"), "image/png", png));
        }
        return Err(AppError::Unavailable(
            "このTIFFは表示用に変換できません。ファイルを開いてください (cannot convert)".into(),
        )
        .into());
    }
    Ok(file_response(&name, &media, bytes))
}

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
