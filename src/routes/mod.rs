//! HTTP routes: the JSON API under `/api/v1` (described at `/api/openapi.json`),
//! the staff console pages, health and static assets.

pub mod api;
pub mod console;
pub mod courier;
pub mod openapi;
pub mod portal;

use actix_web::{web, HttpResponse};

use crate::web::state::AppState;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/static/app.css", web::get().to(stylesheet))
        .route("/api/openapi.json", web::get().to(openapi::serve))
        .route(
            "/portal/connection-test",
            web::get().to(portal::connection_test),
        )
        .route("/static/signature.js", web::get().to(signature_js))
        .route("/portal/receipt/{token}", web::get().to(portal::receipt))
        .route(
            "/portal/receipt/{token}",
            web::post().to(portal::confirm_receipt),
        )
        .route("/courier", web::get().to(courier::list))
        .route(
            "/courier/{pharmacy_id}/{delivery_id}",
            web::get().to(courier::stop),
        )
        .route(
            "/courier/{pharmacy_id}/{delivery_id}/step",
            web::post().to(courier::step),
        )
        .route(
            "/courier/{pharmacy_id}/{delivery_id}/handover",
            web::post().to(courier::hand_over),
        )
        .route("/portal/{token}", web::get().to(portal::show))
        .route("/portal/{token}", web::post().to(portal::act));
    api::configure(cfg);
    console::configure(cfg);
    cfg.default_service(web::to(crate::web::middleware::not_found));
}

/// Liveness and readiness: 200 when the database answers, 503 otherwise.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "database reachable"), (status = 503, description = "database unreachable")))]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    use diesel::RunQueryDsl;
    let ok = state
        .db(|conn| diesel::sql_query("SELECT 1").execute(conn))
        .await
        .is_ok();
    if ok {
        HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "database unreachable"}))
    }
}

const APP_CSS: &str = include_str!("../../templates/static/app.css");

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(APP_CSS)
}

const SIGNATURE_JS: &str = include_str!("../../templates/static/signature.js");

async fn signature_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(SIGNATURE_JS)
}
