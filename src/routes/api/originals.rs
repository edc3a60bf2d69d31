//! Originals of copy-based prescriptions (API): the list awaited, registering an
//! original, resolving differences, the storage place, the handover (交付) and
//! staff tasks.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::copies::originals::{self, AwaitedOriginal, CopyView, OriginalInput, ResolveInput};
use crate::error::ApiError;
use crate::prescriptions::{self, Prescription};
use crate::tasks::{self, StaffTask};
use crate::web::extract::Staff;
use crate::web::AppState;

/// Originals not yet reconciled, by due date.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/originals", tag = "copies",
    params(("pharmacy_id" = String, Path)),
    responses((status = 200, body = [AwaitedOriginal])))]
pub async fn awaited(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| originals::awaited(conn, &ctx, &pid))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Registers the original (2D symbol or typed fields) and compares it with the copy.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/original", tag = "copies",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)), request_body = OriginalInput,
    responses((status = 200, body = CopyView), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn register_original(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<OriginalInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let v = state
        .db(move |conn| originals::register(conn, &ctx, &pid, &id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Resolves one difference between copy and original (pharmacists).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/original/discrepancies/{discrepancy_id}/resolve", tag = "copies",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path), ("discrepancy_id" = String, Path)), request_body = ResolveInput,
    responses((status = 200, body = CopyView), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn resolve_discrepancy(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String, String)>,
    body: web::Json<ResolveInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id, did) = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let v = state
        .db(move |conn| originals::resolve(conn, &ctx, &pid, &id, &did, &input))
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Where the original is kept.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct StorageInput {
    /// Box / file number.
    pub storage_place: String,
}

/// Records where the paper original is kept.
#[utoipa::path(put, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/original/storage", tag = "copies",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)), request_body = StorageInput,
    responses((status = 200, body = CopyView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn set_storage(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<StorageInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, b) = (s.ctx, body.into_inner());
    let v = state
        .db(move |conn| originals::set_storage(conn, &ctx, &pid, &id, &b.storage_place))
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Records the handover (交付) of a dispensed prescription; refused (409, with the
/// reasons) while something blocks it, e.g. a narcotic copy without its original.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/handover", tag = "prescriptions",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)),
    responses((status = 200, body = Prescription), (status = 409, body = crate::error::ErrorBody)))]
pub async fn hand_over(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let p = state
        .db(move |conn| prescriptions::hand_over(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Open staff tasks, urgent first.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/tasks", tag = "tasks",
    params(("pharmacy_id" = String, Path)),
    responses((status = 200, body = [StaffTask])))]
pub async fn tasks_open(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let rows = state.db(move |conn| tasks::open(conn, &ctx, &pid)).await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Completing a task.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct TaskDone {
    /// What was done.
    pub note: String,
}

/// Marks a task done.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/tasks/{task_id}/done", tag = "tasks",
    params(("pharmacy_id" = String, Path), ("task_id" = String, Path)), request_body = TaskDone,
    responses((status = 200, body = StaffTask), (status = 404, body = crate::error::ErrorBody)))]
pub async fn task_done(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<TaskDone>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, b) = (s.ctx, body.into_inner());
    let t = state
        .db(move |conn| tasks::complete(conn, &ctx, &pid, &id, &b.note))
        .await?;
    Ok(HttpResponse::Ok().json(t))
}
