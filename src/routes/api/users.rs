//! Staff accounts of a pharmacy (API, admins).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::domain::role::Role;
use crate::error::{ApiError, AppError};
use crate::users::{self, NewUserInput, StaffMember};
use crate::web::extract::Staff;
use crate::web::AppState;

/// A created account; `initial_password` is present (once) when it was generated.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    pub id: String,
    pub initial_password: Option<String>,
}

/// A role change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleChange {
    pub role: Role,
}

/// Validates, hashes (off the executor) and stores a new account.
pub async fn create_user(
    state: &AppState,
    ctx: Ctx,
    pharmacy_id: String,
    input: NewUserInput,
) -> Result<UserCreated, AppError> {
    let (username, display_name, password) =
        users::validate_new(&input).map_err(AppError::Validation)?;
    let generated = password.is_none().then(users::generate_password);
    let plain = password.or(generated.clone()).unwrap_or_default();
    let hash = state.hasher.hash(plain).await?;
    let role = input.role;
    let id = state
        .db(move |conn| {
            users::add(
                conn,
                &ctx,
                &pharmacy_id,
                &username,
                &display_name,
                role,
                &hash,
            )
        })
        .await?;
    Ok(UserCreated {
        id,
        initial_password: generated,
    })
}

/// Lists the pharmacy's staff.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/users", tag = "users",
    params(("pharmacy_id" = String, Path)),
    responses((status = 200, body = [StaffMember]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let list = state.db(move |conn| users::list(conn, &ctx, &pid)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Creates an account with a role in this pharmacy.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/users", tag = "users",
    params(("pharmacy_id" = String, Path)), request_body = NewUserInput,
    responses((status = 201, body = UserCreated), (status = 403, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<NewUserInput>,
) -> Result<HttpResponse, ApiError> {
    let created = create_user(&state, s.ctx, path.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Changes (or grants) an account's role in this pharmacy; its sessions end.
#[utoipa::path(put, path = "/api/v1/pharmacies/{pharmacy_id}/users/{user_id}/role", tag = "users",
    params(("pharmacy_id" = String, Path), ("user_id" = String, Path)), request_body = RoleChange,
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn set_role(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<RoleChange>,
) -> Result<HttpResponse, ApiError> {
    let (pid, uid) = path.into_inner();
    let ctx = s.ctx;
    let role = body.role;
    state
        .db(move |conn| users::set_role(conn, &ctx, &pid, &uid, role, false))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Disables an account; all its sessions end at once.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/users/{user_id}/disable", tag = "users",
    params(("pharmacy_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn disable(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, uid) = path.into_inner();
    let ctx = s.ctx;
    state
        .db(move |conn| users::disable(conn, &ctx, &pid, &uid))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Re-enables an account.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/users/{user_id}/enable", tag = "users",
    params(("pharmacy_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn enable(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, uid) = path.into_inner();
    let ctx = s.ctx;
    state
        .db(move |conn| users::enable(conn, &ctx, &pid, &uid))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes an account's second factor (lost phone); it must enrol again.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/users/{user_id}/reset-second-factor", tag = "users",
    params(("pharmacy_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn reset_second_factor(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, uid) = path.into_inner();
    let ctx = s.ctx;
    state
        .db(move |conn| users::reset_second_factor(conn, &ctx, &pid, &uid))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
