//! Home deliveries (API): creating a delivery from dispensed prescriptions whose
//! guidance is completed, reading it with contents and timeline, and moving it on
//! one step at a time.

use actix_web::{web, HttpResponse};

use crate::deliveries::{self, DeliveryDetail, DeliveryInput, StepInput};
use crate::error::ApiError;
use crate::web::extract::Staff;
use crate::web::AppState;

/// Creates a delivery; refused when guidance is not completed (409), when the
/// contents forbid the method (422) or need a pharmacist's confirmation (409).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries", tag = "deliveries",
    params(("pharmacy_id" = String, Path)), request_body = DeliveryInput,
    responses((status = 201, body = DeliveryDetail), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<DeliveryInput>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let d = state
        .db(move |conn| deliveries::create(conn, &ctx, &pid, &input))
        .await?;
    Ok(HttpResponse::Created().json(d))
}

/// A delivery with its contents and timeline.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let d = state
        .db(move |conn| deliveries::get(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// Moves a delivery one step (sealed, handed to courier, out for delivery, failed
/// attempt, returned); no step may be skipped.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/steps", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)), request_body = StepInput,
    responses((status = 200, body = DeliveryDetail), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn advance(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<StepInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let d = state
        .db(move |conn| deliveries::advance(conn, &ctx, &pid, &id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}
