//! The signed-in user's pharmacies (API).

use actix_web::{web, HttpResponse};

use crate::context::Membership;
use crate::domain::pharmacy::PharmacyInput;
use crate::error::ApiError;
use crate::pharmacies::{self, Pharmacy};
use crate::web::extract::Staff;
use crate::web::AppState;

/// The pharmacies the user belongs to, with their role in each.
#[utoipa::path(get, path = "/api/v1/pharmacies", tag = "pharmacies",
    responses((status = 200, body = [Membership]), (status = 401, body = crate::error::ErrorBody)))]
pub async fn list(s: Staff) -> HttpResponse {
    HttpResponse::Ok().json(s.session.memberships)
}

/// One pharmacy's details.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}", tag = "pharmacies",
    params(("pharmacy_id" = String, Path)),
    responses((status = 200, body = Pharmacy), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let ctx = s.ctx;
    let p = state
        .db(move |conn| pharmacies::get(conn, &ctx, &id))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Updates a pharmacy's details (its admins).
#[utoipa::path(put, path = "/api/v1/pharmacies/{pharmacy_id}", tag = "pharmacies",
    params(("pharmacy_id" = String, Path)), request_body = PharmacyInput,
    responses((status = 200, body = Pharmacy), (status = 403, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<PharmacyInput>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let ctx = s.ctx;
    let input = body.into_inner();
    let p = state
        .db(move |conn| pharmacies::update(conn, &ctx, &id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}
