//! E-prescriptions through the national services (API): accept by 引換番号,
//! cancel or reject the acceptance, status, results waiting for registration,
//! kept unreadable messages.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::eps::intake::AcceptInput;
use crate::eps::results::{self, PendingResult};
use crate::eps::{intake, lifecycle, KeptMessage};
use crate::error::ApiError;
use crate::prescriptions::Prescription;
use crate::web::extract::Staff;
use crate::web::AppState;

/// Accepts a prescription (受付) from the national service and checks it. The
/// patient is the one given, else matched by insurance and birth date, else
/// registered from the prescription's patient records.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/eps/accept", tag = "e-prescriptions",
    params(("pharmacy_id" = String, Path)), request_body = AcceptInput,
    responses((status = 201, body = Prescription),
        (status = 409, description = "being accepted or already accepted by a colleague", body = crate::error::ErrorBody),
        (status = 422, description = "invalid input, or refused by the service (its message)", body = crate::error::ErrorBody),
        (status = 502, description = "unreadable answer or payload (kept)", body = crate::error::ErrorBody),
        (status = 503, description = "terminal or service not answering", body = crate::error::ErrorBody)))]
pub async fn accept(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<AcceptInput>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let (ctx, policy, gw) = (s.ctx, state.settings.currency_policy(), state.gateway());
    let input = body.into_inner();
    let p = state
        .db(move |conn| intake::accept(conn, gw.as_ref(), &ctx, &pid, &input, &policy))
        .await?;
    Ok(HttpResponse::Created().json(p))
}

/// Cancelling an acceptance.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct CancelInput {
    /// Required when rejecting.
    pub reason: Option<String>,
    /// 調剤拒否: reject the prescription (hands it back to the service too).
    pub reject: bool,
}

/// Cancels this pharmacy's acceptance (受付取消) or rejects the prescription;
/// refused once dispensed.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/eps/cancel-acceptance", tag = "e-prescriptions",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)), request_body = CancelInput,
    responses((status = 200, body = Prescription), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn cancel_acceptance(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<CancelInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, gw, b) = (s.ctx, state.gateway(), body.into_inner());
    let p = state
        .db(move |conn| {
            lifecycle::cancel_acceptance(
                conn,
                gw.as_ref(),
                &ctx,
                &pid,
                &id,
                b.reason.as_deref(),
                b.reject,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Asks the service for the prescription's current status.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/eps/status", tag = "e-prescriptions",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)),
    responses((status = 200, body = Prescription), (status = 503, body = crate::error::ErrorBody)))]
pub async fn refresh_status(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, gw) = (s.ctx, state.gateway());
    let p = state
        .db(move |conn| lifecycle::refresh_status(conn, gw.as_ref(), &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Queues a failed result registration again.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/eps/retry-registration", tag = "e-prescriptions",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)),
    responses((status = 204), (status = 409, body = crate::error::ErrorBody)))]
pub async fn retry_registration(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, dead_after) = (s.ctx, state.outbox.dead_after);
    state
        .db(move |conn| results::retry(conn, &ctx, &pid, &id, dead_after))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Dispensing results not yet acknowledged by the service.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/eps/pending-results", tag = "e-prescriptions",
    params(("pharmacy_id" = String, Path)),
    responses((status = 200, body = [PendingResult])))]
pub async fn pending_results(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| results::pending(conn, &ctx, &pid))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Unreadable answers and payloads, kept for inspection (newest first).
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/eps/messages", tag = "e-prescriptions",
    params(("pharmacy_id" = String, Path)),
    responses((status = 200, body = [KeptMessage])))]
pub async fn kept_messages(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| crate::eps::kept_messages(conn, &ctx, &pid))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Cancelling a registered dispensing result.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct CancelResultInput {
    /// Why (required), e.g. a dispensing error found afterwards.
    pub reason: Option<String>,
}

/// Cancels the registered dispensing result (調剤結果の取消): the dispensing record is
/// removed and the prescription can be dispensed and registered again.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/eps/cancel-result", tag = "e-prescriptions",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)), request_body = CancelResultInput,
    responses((status = 200, body = Prescription), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn cancel_result(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<CancelResultInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, gw, b) = (s.ctx, state.gateway(), body.into_inner());
    let p = state
        .db(move |conn| {
            lifecycle::cancel_result(conn, gw.as_ref(), &ctx, &pid, &id, b.reason.as_deref())
        })
        .await?;
    Ok(HttpResponse::Ok().json(p))
}
