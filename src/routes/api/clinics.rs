//! The clinics directory (API).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::clinics::{self, Clinic};
use crate::domain::clinic::ClinicInput;
use crate::error::ApiError;
use crate::web::extract::Staff;
use crate::web::AppState;

/// A clinic update: the full record and the version it was based on.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClinicUpdate {
    pub version: i32,
    #[serde(flatten)]
    pub clinic: ClinicInput,
}

/// The pharmacy's clinics, by name.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/clinics", tag = "clinics",
    params(("pharmacy_id" = String, Path)),
    responses((status = 200, body = [Clinic]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| clinics::list(conn, &ctx, &pid))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Adds a clinic (admins).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/clinics", tag = "clinics",
    params(("pharmacy_id" = String, Path)), request_body = ClinicInput,
    responses((status = 201, body = Clinic), (status = 403, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<ClinicInput>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let input = body.into_inner();
    let c = state
        .db(move |conn| clinics::create(conn, &ctx, &pid, &input))
        .await?;
    Ok(HttpResponse::Created().json(c))
}

/// One clinic.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/clinics/{clinic_id}", tag = "clinics",
    params(("pharmacy_id" = String, Path), ("clinic_id" = String, Path)),
    responses((status = 200, body = Clinic), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let c = state
        .db(move |conn| clinics::get(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(c))
}

/// Updates a clinic (admins; optimistic locking by `version`).
#[utoipa::path(put, path = "/api/v1/pharmacies/{pharmacy_id}/clinics/{clinic_id}", tag = "clinics",
    params(("pharmacy_id" = String, Path), ("clinic_id" = String, Path)), request_body = ClinicUpdate,
    responses((status = 200, body = Clinic), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<ClinicUpdate>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let b = body.into_inner();
    let c = state
        .db(move |conn| clinics::update(conn, &ctx, &pid, &id, b.version, &b.clinic))
        .await?;
    Ok(HttpResponse::Ok().json(c))
}
