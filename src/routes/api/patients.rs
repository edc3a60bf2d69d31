//! Patient records (API).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::domain::patient::{PatientInput, PatientSearch};
use crate::error::ApiError;
use crate::patients::{self, Patient, PatientSummary};
use crate::web::extract::Staff;
use crate::web::AppState;

/// Search parameters; all optional and combined with AND.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// Prefix of the カナ name (hiragana and half-width accepted).
    pub kana: Option<String>,
    /// 生年月日 (YYYY-MM-DD).
    pub birth_date: Option<String>,
    /// 保険者番号 or 被保険者証の番号.
    pub insurance_number: Option<String>,
    /// 0-based page of 50.
    pub page: Option<i64>,
}

/// Page size of patient lists.
pub const PAGE_SIZE: i64 = 50;

/// Searches the pharmacy's patients.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/patients", tag = "patients",
    params(("pharmacy_id" = String, Path), SearchQuery),
    responses((status = 200, body = [PatientSummary]), (status = 403, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn search(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let pharmacy_id = path.into_inner();
    let criteria = PatientSearch::parse(
        q.kana.as_deref(),
        q.birth_date.as_deref(),
        q.insurance_number.as_deref(),
    )
    .map_err(crate::error::AppError::Validation)?;
    let offset = q.page.unwrap_or(0).max(0) * PAGE_SIZE;
    let ctx = s.ctx;
    let list = state
        .db(move |conn| patients::search(conn, &ctx, &pharmacy_id, &criteria, offset, PAGE_SIZE))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Registers a patient.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/patients", tag = "patients",
    params(("pharmacy_id" = String, Path)), request_body = PatientInput,
    responses((status = 201, body = Patient), (status = 403, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<PatientInput>,
) -> Result<HttpResponse, ApiError> {
    let pharmacy_id = path.into_inner();
    let ctx = s.ctx;
    let input = body.into_inner();
    let p = state
        .db(move |conn| patients::create(conn, &ctx, &pharmacy_id, &input))
        .await?;
    Ok(HttpResponse::Created().json(p))
}

/// Reads one patient (audited).
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/patients/{patient_id}", tag = "patients",
    params(("pharmacy_id" = String, Path), ("patient_id" = String, Path)),
    responses((status = 200, body = Patient), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pharmacy_id, patient_id) = path.into_inner();
    let ctx = s.ctx;
    let p = state
        .db(move |conn| patients::get(conn, &ctx, &pharmacy_id, &patient_id))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// A patient update: the full record and the version it was based on.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatientUpdate {
    /// The `version` last read; a newer version on the server answers 409.
    pub version: i32,
    #[serde(flatten)]
    pub patient: PatientInput,
}

/// Updates a patient (optimistic locking by `version`).
#[utoipa::path(put, path = "/api/v1/pharmacies/{pharmacy_id}/patients/{patient_id}", tag = "patients",
    params(("pharmacy_id" = String, Path), ("patient_id" = String, Path)), request_body = PatientUpdate,
    responses((status = 200, body = Patient), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<PatientUpdate>,
) -> Result<HttpResponse, ApiError> {
    let (pharmacy_id, patient_id) = path.into_inner();
    let ctx = s.ctx;
    let body = body.into_inner();
    let p = state
        .db(move |conn| {
            patients::update(
                conn,
                &ctx,
                &pharmacy_id,
                &patient_id,
                body.version,
                &body.patient,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(p))
}
