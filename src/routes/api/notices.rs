//! Notices (outbox) of a pharmacy (API).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::notices::{self, NoticeFilter, Notification, NotificationDetail};
use crate::web::extract::Staff;
use crate::web::AppState;

/// Filters for the list.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct NoticeQuery {
    /// pending, sending, sent, failed, dead, needs_manual_contact, contacted
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Only notices needing staff (needs_manual_contact, failed, dead).
    pub attention: Option<bool>,
    /// 0-based page of 100.
    pub page: Option<i64>,
}

impl NoticeQuery {
    /// The service filter.
    pub fn filter(&self) -> NoticeFilter {
        let clean = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        NoticeFilter {
            status: clean(&self.status),
            kind: clean(&self.kind),
            needs_attention: self.attention.unwrap_or(false),
            limit: 100,
            offset: self.page.unwrap_or(0).max(0) * 100,
        }
    }
}

/// A test notice request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TestNoticeRequest {
    /// Address to send the test notice to.
    pub to: String,
}

/// Lists notices, newest first.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/notices", tag = "notices",
    params(("pharmacy_id" = String, Path), NoticeQuery),
    responses((status = 200, body = [Notification]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let f = q.filter();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| notices::list(conn, &ctx, &pid, &f))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// One notice with its send attempts.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/notices/{notice_id}", tag = "notices",
    params(("pharmacy_id" = String, Path), ("notice_id" = String, Path)),
    responses((status = 200, body = NotificationDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let d = state
        .db(move |conn| notices::get(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// Sends a failed or dead notice again (pharmacists and admins; same Message-ID).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/notices/{notice_id}/resend", tag = "notices",
    params(("pharmacy_id" = String, Path), ("notice_id" = String, Path)),
    responses((status = 200, body = Notification), (status = 403, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn resend(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let cfg = state.outbox.clone();
    let n = state
        .db(move |conn| notices::resend(conn, &ctx, &cfg, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(n))
}

/// Records that staff reached the recipient another way.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/notices/{notice_id}/contacted", tag = "notices",
    params(("pharmacy_id" = String, Path), ("notice_id" = String, Path)),
    responses((status = 200, body = Notification), (status = 409, body = crate::error::ErrorBody)))]
pub async fn contacted(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let n = state
        .db(move |conn| notices::mark_contacted(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(n))
}

/// Queues the test notice (admins).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/notices/test", tag = "notices",
    params(("pharmacy_id" = String, Path)), request_body = TestNoticeRequest,
    responses((status = 201, body = Notification), (status = 403, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn send_test(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<TestNoticeRequest>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let cfg = state.outbox.clone();
    let tz = state.settings.time_zone;
    let to = body.into_inner().to;
    let n = state
        .db(move |conn| notices::send_test(conn, &ctx, &cfg, tz, &pid, &to))
        .await?;
    Ok(HttpResponse::Created().json(n))
}
