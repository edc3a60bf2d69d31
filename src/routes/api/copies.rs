//! Prescription copies by fax / e-mail (API): receive a raw message or a scanned
//! file, the intake inbox, files, triage decisions and transcription (with the 2D
//! symbol). Originals, the handover and tasks are in `originals`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::copies::ingest::{self, Received};
use crate::copies::transcribe::{self, Transcribed};
use crate::copies::{self, CopyDetail, CopyRow};
use crate::domain::transcription::TranscriptionInput;
use crate::error::{ApiError, AppError};
use crate::web::extract::Staff;
use crate::web::AppState;

/// Reads a request body up to `limit` bytes (larger: 413, nothing kept). The
/// app-wide body limit is for forms and JSON; copies may be larger.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, AppError> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge(
                crate::copies::CopyError::TooLarge(limit).to_string(),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn received(r: Received) -> HttpResponse {
    if r.created {
        HttpResponse::Created().json(r.copy)
    } else {
        HttpResponse::Ok().json(r.copy)
    }
}

/// Receives one raw e-mail (RFC 5322, as an MTA would deliver it; fax gateways'
/// messages too). 201 for a new copy, 200 when it was delivered before.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/copies/mail", tag = "copies",
    params(("pharmacy_id" = String, Path)),
    request_body(content = String, content_type = "message/rfc822"),
    responses((status = 201, body = CopyDetail), (status = 200, description = "redelivered: the stored copy", body = CopyDetail),
        (status = 413, description = "larger than copies.keep_oversized_up_to_bytes (not kept)"),
        (status = 422, description = "rejected (reason stated) and kept in quarantine", body = crate::error::ErrorBody)))]
pub async fn receive_mail(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let body = read_body(
        payload,
        state.settings.raw.copies.keep_oversized_up_to_bytes,
    )
    .await?;
    let (ctx, store, limits) = (
        s.ctx,
        state.file_store(),
        state.settings.raw.copies.limits(),
    );
    let r = state
        .db(move |conn| ingest::receive_mail(conn, &store, &ctx, &pid, &body, &limits))
        .await?;
    Ok(received(r))
}

/// Upload parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct UploadQuery {
    /// The file's name.
    pub filename: String,
    /// The clinic that sent it (else the copy waits in triage).
    pub clinic_id: Option<String>,
}

/// Receives a scanned copy (PDF, TIFF, PNG or JPEG) as the request body.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/copies/upload", tag = "copies",
    params(("pharmacy_id" = String, Path), UploadQuery),
    request_body(content = String, content_type = "application/pdf"),
    responses((status = 201, body = CopyDetail), (status = 422, body = crate::error::ErrorBody)))]
pub async fn upload(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    q: web::Query<UploadQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let body = read_body(payload, state.settings.raw.copies.max_attachment_bytes + 1).await?;
    let q = q.into_inner();
    let (ctx, store, limits) = (
        s.ctx,
        state.file_store(),
        state.settings.raw.copies.limits(),
    );
    let r = state
        .db(move |conn| {
            ingest::receive_upload(
                conn,
                &store,
                &ctx,
                &pid,
                &q.filename,
                &body,
                q.clinic_id.as_deref(),
                &limits,
            )
        })
        .await?;
    Ok(received(r))
}

/// Inbox filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct InboxQuery {
    /// Comma-separated statuses (new, triage, quarantined, transcribed, dismissed).
    pub status: String,
}

/// The intake inbox, newest first.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/copies", tag = "copies",
    params(("pharmacy_id" = String, Path), InboxQuery),
    responses((status = 200, body = [CopyRow])))]
pub async fn list(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    q: web::Query<InboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| {
            let statuses: Vec<&str> = q.status.split(',').filter(|s| !s.is_empty()).collect();
            copies::list(conn, &ctx, &pid, &statuses)
        })
        .await?;
    let rows: Vec<CopyRow> = rows.into_iter().map(|(r, _)| r).collect();
    Ok(HttpResponse::Ok().json(rows))
}

/// One copy with its files.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/copies/{copy_id}", tag = "copies",
    params(("pharmacy_id" = String, Path), ("copy_id" = String, Path)),
    responses((status = 200, body = CopyDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let d = state
        .db(move |conn| copies::get(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// Serves a stored file inline (for the viewer beside the transcription form).
pub fn file_response(name: &str, media_type: &str, bytes: Vec<u8>) -> HttpResponse {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    HttpResponse::Ok()
        .content_type(media_type.to_string())
        .insert_header((
            "Content-Disposition",
            format!("inline; filename=\"{ascii}\""),
        ))
        .insert_header(("Cache-Control", "private, no-store"))
        // Shown in a frame of the console page itself (and by the browser's own PDF
        // viewer, which a `sandbox` policy would block); nothing else may load.
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'",
        ))
        .body(bytes)
}

/// One file of a copy, inline.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/copies/{copy_id}/files/{position}", tag = "copies",
    params(("pharmacy_id" = String, Path), ("copy_id" = String, Path), ("position" = i32, Path)),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn file(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id, pos) = path.into_inner();
    let (ctx, store) = (s.ctx, state.file_store());
    let (name, media, bytes) = state
        .db(move |conn| copies::file(conn, &store, &ctx, &pid, &id, pos))
        .await?;
    Ok(file_response(&name, &media, bytes))
}

/// The texts of the 2D symbols read from a copy's images (PNG, JPEG, TIFF).
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/copies/{copy_id}/symbols", tag = "copies",
    params(("pharmacy_id" = String, Path), ("copy_id" = String, Path)),
    responses((status = 200, body = [String])))]
pub async fn symbols(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, store) = (s.ctx, state.file_store());
    let found = state
        .db(move |conn| copies::symbols_in_files(conn, &store, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// A triage decision.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct DecisionInput {
    /// Accept as coming from this clinic (after checking with it).
    pub clinic_id: Option<String>,
    /// Dismiss instead (misdirected, spoofed, duplicate, unreadable).
    pub dismiss: bool,
    /// What was done (required).
    pub note: String,
}

/// Accepts a triaged copy (naming its clinic) or dismisses a copy with a note.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/copies/{copy_id}/decision", tag = "copies",
    params(("pharmacy_id" = String, Path), ("copy_id" = String, Path)), request_body = DecisionInput,
    responses((status = 200, body = CopyDetail), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn decide(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<DecisionInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, b) = (s.ctx, body.into_inner());
    let d = state
        .db(move |conn| {
            copies::decide(
                conn,
                &ctx,
                &pid,
                &id,
                b.clinic_id.as_deref(),
                b.dismiss,
                &b.note,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// A 2D symbol's text.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct SymbolInput {
    pub text: String,
}

/// Reads a 2D symbol (JAHIS e-prescription CSV) into a transcription form; no
/// change is made.
#[utoipa::path(post, path = "/api/v1/copies/symbol", tag = "copies",
    request_body = SymbolInput,
    responses((status = 200, body = TranscriptionInput), (status = 422, body = crate::error::ErrorBody)))]
pub async fn read_symbol(
    _s: Staff,
    body: web::Json<SymbolInput>,
) -> Result<HttpResponse, ApiError> {
    let form = TranscriptionInput::from_symbol(&body.text).map_err(|m| {
        let mut f = crate::domain::fields::FieldErrors::new();
        f.add("text", m);
        AppError::Validation(f)
    })?;
    Ok(HttpResponse::Ok().json(form))
}

/// Turns a copy into a prescription and checks it (pharmacists).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/copies/{copy_id}/transcribe", tag = "copies",
    params(("pharmacy_id" = String, Path), ("copy_id" = String, Path)), request_body = TranscriptionInput,
    responses((status = 201, body = Transcribed), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn transcribe(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<TranscriptionInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, policy, input) = (s.ctx, state.settings.currency_policy(), body.into_inner());
    let t = state
        .db(move |conn| transcribe::transcribe(conn, &ctx, &pid, &id, &input, &policy))
        .await?;
    Ok(HttpResponse::Created().json(t))
}

/// The raw message as received (pharmacists inspecting triage or quarantine).
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/copies/{copy_id}/raw", tag = "copies",
    params(("pharmacy_id" = String, Path), ("copy_id" = String, Path)),
    responses((status = 200, description = "the raw message", content_type = "message/rfc822")))]
pub async fn raw(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    _req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, store) = (s.ctx, state.file_store());
    let bytes = state
        .db(move |conn| copies::raw_message(conn, &store, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"message.eml\"",
        ))
        .body(bytes))
}
