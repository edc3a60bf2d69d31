//! Console pages for prescription copies: the intake inbox with uploads and the copy
//! screen (viewer beside triage and the transcription form, with 2D-symbol, patient
//! and drug search steps that keep what was typed). Originals are in `originals`.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::{web, HttpResponse};
use futures_util::StreamExt;

use super::see_other;
use crate::copies::{self, ingest, transcribe, CopyError};
use crate::domain::fields::FieldErrors;
use crate::domain::patient::PatientSearch;
use crate::domain::role::Permission;
use crate::domain::transcription::TranscriptionInput;
use crate::error::{AppError, PageError};
use crate::routes::api::copies::file_response;
use crate::web::copy_pages::{CopiesPage, CopyPage, TranscriptionForm};
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
