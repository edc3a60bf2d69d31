//! Online guidance scheduling (API): pharmacists' hours and exceptions, free
//! slots, booking and cancelling sessions.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::domain::guidance::availability::Span;
use crate::error::{ApiError, AppError};
use crate::guidance::{self, BookingInput, ExceptionInput, HoursInput, Session, SettingsInput};
use crate::web::extract::Staff;
use crate::web::AppState;

/// Sets the pharmacy's slot length, buffer and マイナ在宅受付Web URL (admins).
#[utoipa::path(put, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/settings", tag = "guidance",
    params(("pharmacy_id" = String, Path)), request_body = SettingsInput,
    responses((status = 200, body = SettingsInput), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn set_settings(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<SettingsInput>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let saved = state
        .db(move |conn| guidance::set_settings(conn, &ctx, &pid, &input))
        .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// Replaces a pharmacist's weekly hours (the pharmacist, or an admin).
#[utoipa::path(put, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/pharmacists/{user_id}/hours", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("user_id" = String, Path)), request_body = [HoursInput],
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn set_hours(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<Vec<HoursInput>>,
) -> Result<HttpResponse, ApiError> {
    let (pid, uid) = path.into_inner();
    let (ctx, hours) = (s.ctx, body.into_inner());
    state
        .db(move |conn| guidance::set_hours(conn, &ctx, &pid, &uid, &hours))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds an exception (holiday, absence, other hours) to a pharmacist's hours.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/pharmacists/{user_id}/exceptions", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("user_id" = String, Path)), request_body = ExceptionInput,
    responses((status = 204), (status = 422, body = crate::error::ErrorBody)))]
pub async fn add_exception(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<ExceptionInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, uid) = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    state
        .db(move |conn| guidance::add_exception(conn, &ctx, &pid, &uid, &input))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The day to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SlotsQuery {
    /// YYYY-MM-DD (Japan time)
    pub date: String,
}

/// Free slots of a pharmacist on a day (Japan time).
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/pharmacists/{user_id}/slots", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("user_id" = String, Path), SlotsQuery),
    responses((status = 200, body = [Span])))]
pub async fn slots(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    q: web::Query<SlotsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (pid, uid) = path.into_inner();
    let day = chrono::NaiveDate::parse_from_str(q.date.trim(), "%Y-%m-%d").map_err(|_| {
        let mut f = crate::domain::fields::FieldErrors::new();
        f.add("date", "日付は YYYY-MM-DD (date as YYYY-MM-DD)");
        AppError::Validation(f)
    })?;
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| guidance::slots(conn, &ctx, &pid, &uid, day))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Books a session; 409 when the slot was taken meanwhile.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/sessions", tag = "guidance",
    params(("pharmacy_id" = String, Path)), request_body = BookingInput,
    responses((status = 201, body = Session), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn book(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<BookingInput>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let (ctx, input, outbox, reminders) = (
        s.ctx,
        body.into_inner(),
        state.outbox.clone(),
        state.settings.raw.guidance.reminders(),
    );
    let session = state
        .db(move |conn| guidance::book(conn, &ctx, &outbox, &reminders, &pid, &input))
        .await?;
    Ok(HttpResponse::Created().json(session))
}

/// Cancelling a session.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct CancelSession {
    pub reason: String,
}

/// Cancels a session with a reason.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/cancel", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("session_id" = String, Path)), request_body = CancelSession,
    responses((status = 200, body = Session), (status = 409, body = crate::error::ErrorBody)))]
pub async fn cancel(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<CancelSession>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, b, outbox) = (s.ctx, body.into_inner(), state.outbox.clone());
    let session = state
        .db(move |conn| guidance::cancel(conn, &ctx, &outbox, &pid, &id, &b.reason))
        .await?;
    Ok(HttpResponse::Ok().json(session))
}

/// Moving a session.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct MoveSession {
    /// New start, Japan time, `YYYY-MM-DDTHH:MM`.
    pub start: String,
    pub reason: String,
}

/// Moves a session (reminders follow the new time; the patient is told).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/move", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("session_id" = String, Path)), request_body = MoveSession,
    responses((status = 200, body = Session), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn reschedule(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<MoveSession>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, b, outbox, reminders) = (
        s.ctx,
        body.into_inner(),
        state.outbox.clone(),
        state.settings.raw.guidance.reminders(),
    );
    let session = state
        .db(move |conn| {
            guidance::reschedule(
                conn, &ctx, &outbox, &reminders, &pid, &id, &b.start, &b.reason,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(session))
}
