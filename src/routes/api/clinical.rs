//! Drug master, patient medication, checks and prescriptions (API).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::domain::checks::CheckResult;
use crate::domain::dispensing::DispenseInput;
use crate::domain::prescription::{ItemInput, PrescriptionInput, ResolutionInput};
use crate::drugs::{self, Product};
use crate::error::{ApiError, AppError};
use crate::medications::{self, Candidate, DeclaredInput, MedicationLine};
use crate::prescriptions::{self, review, Header, Prescription};
use crate::web::extract::Staff;
use crate::web::AppState;

/// Drug search.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DrugQuery {
    /// Name, kana or ingredient (partial).
    pub q: String,
}

/// Searches the drug master.
#[utoipa::path(get, path = "/api/v1/drugs", tag = "drugs", params(DrugQuery),
    responses((status = 200, body = [Product]), (status = 401, body = crate::error::ErrorBody)))]
pub async fn search_drugs(
    state: web::Data<AppState>,
    _s: Staff,
    q: web::Query<DrugQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner().q;
    let rows = state
        .db(move |conn| drugs::search(conn, &q, 50).map_err(AppError::from))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Looks a product up by YJ/薬価基準, レセ電 or 一般名 code.
#[utoipa::path(get, path = "/api/v1/drugs/{code}", tag = "drugs", params(("code" = String, Path)),
    responses((status = 200, body = [Product]), (status = 404, body = crate::error::ErrorBody)))]
pub async fn lookup_drug(
    state: web::Data<AppState>,
    _s: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = path.into_inner();
    let rows = state
        .db(move |conn| drugs::lookup(conn, &code).map_err(AppError::from))
        .await?;
    if rows.is_empty() {
        return Err(
            AppError::NotFound("薬品が見つかりません (no product with this code)".into()).into(),
        );
    }
    Ok(HttpResponse::Ok().json(rows))
}

/// The patient's medication (current and past, with source).
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/patients/{patient_id}/medications", tag = "checks",
    params(("pharmacy_id" = String, Path), ("patient_id" = String, Path)),
    responses((status = 200, body = [MedicationLine]), (status = 404, body = crate::error::ErrorBody)))]
pub async fn medications(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, patient) = path.into_inner();
    let (ctx, policy) = (s.ctx, state.settings.currency_policy());
    let rows = state
        .db(move |conn| medications::list(conn, &ctx, &pid, &patient, &policy))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Records a medicine the patient declares (OTC, other pharmacies).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/patients/{patient_id}/declared-medications", tag = "checks",
    params(("pharmacy_id" = String, Path), ("patient_id" = String, Path)), request_body = DeclaredInput,
    responses((status = 201), (status = 422, body = crate::error::ErrorBody)))]
pub async fn declare(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<DeclaredInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, patient) = path.into_inner();
    let ctx = s.ctx;
    let input = body.into_inner();
    let id = state
        .db(move |conn| medications::declare(conn, &ctx, &pid, &patient, &input))
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": id })))
}

/// Items to check.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckRequest {
    pub items: Vec<Candidate>,
}

/// Runs a check on arbitrary items for a patient (nothing is stored).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/patients/{patient_id}/checks", tag = "checks",
    params(("pharmacy_id" = String, Path), ("patient_id" = String, Path)), request_body = CheckRequest,
    responses((status = 200, body = CheckResult), (status = 403, body = crate::error::ErrorBody)))]
pub async fn check(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<CheckRequest>,
) -> Result<HttpResponse, ApiError> {
    let (pid, patient) = path.into_inner();
    let (ctx, policy) = (s.ctx, state.settings.currency_policy());
    let items = body.into_inner().items;
    let r = state
        .db(move |conn| medications::adhoc_check(conn, &ctx, &pid, &patient, &items, &policy))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Enters a prescription (pharmacists); it is checked at once.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions", tag = "prescriptions",
    params(("pharmacy_id" = String, Path)), request_body = PrescriptionInput,
    responses((status = 201, body = Prescription), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_prescription(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<PrescriptionInput>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let (ctx, policy) = (s.ctx, state.settings.currency_policy());
    let input = body.into_inner();
    let p = state
        .db(move |conn| prescriptions::create_manual(conn, &ctx, &pid, &input, &policy))
        .await?;
    Ok(HttpResponse::Created().json(p))
}

/// One prescription with its items and findings.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}", tag = "prescriptions",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)),
    responses((status = 200, body = Prescription), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_prescription(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let p = state
        .db(move |conn| prescriptions::get(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// A patient's prescriptions.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/patients/{patient_id}/prescriptions", tag = "prescriptions",
    params(("pharmacy_id" = String, Path), ("patient_id" = String, Path)),
    responses((status = 200, body = [Header])))]
pub async fn patient_prescriptions(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, patient) = path.into_inner();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| prescriptions::list_for_patient(conn, &ctx, &pid, &patient))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// New items for a prescription (re-checked; earlier findings superseded).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ItemsUpdate {
    pub version: i32,
    pub items: Vec<ItemInput>,
}

/// Replaces a prescription's items.
#[utoipa::path(put, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/items", tag = "prescriptions",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)), request_body = ItemsUpdate,
    responses((status = 200, body = Prescription), (status = 409, body = crate::error::ErrorBody)))]
pub async fn replace_items(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<ItemsUpdate>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, policy) = (s.ctx, state.settings.currency_policy());
    let b = body.into_inner();
    let p = state
        .db(move |conn| {
            prescriptions::replace_items(conn, &ctx, &pid, &id, b.version, &b.items, &policy)
        })
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Resolves a finding (acknowledge with a reason, or a 疑義照会).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/findings/{finding_id}/resolve", tag = "prescriptions",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path), ("finding_id" = String, Path)),
    request_body = ResolutionInput,
    responses((status = 200, body = Prescription), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn resolve_finding(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String, String)>,
    body: web::Json<ResolutionInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id, fid) = path.into_inner();
    let ctx = s.ctx;
    let input = body.into_inner();
    let p = state
        .db(move |conn| review::resolve(conn, &ctx, &pid, &id, &fid, &input))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Records what was dispensed (product, quantity, lot, expiry, generic
/// substitution; items left out are dispensed as prescribed). Refused while
/// findings are open, and for e-prescriptions while the signature is not verified
/// or the 使用期限 has passed; an e-prescription's result registration is queued.
/// The body may be empty.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/dispense", tag = "prescriptions",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)),
    request_body(content = Option<DispenseInput>),
    responses((status = 200, body = Prescription), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn dispense(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let input: DispenseInput = if body.iter().all(|b| b.is_ascii_whitespace()) {
        DispenseInput::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let ctx = s.ctx;
    let settings = state.dispense_settings();
    let p = state
        .db(move |conn| prescriptions::dispense(conn, &ctx, &pid, &id, &input, &settings))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}
