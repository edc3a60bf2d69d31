//! The controlled-drug ledger (API): stock, entries, recording receipts,
//! returns, disposals and accidents, the 麻薬帳簿 and annual report as CSV, and
//! the accident-report draft.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, AppError};
use crate::ledger::{self, export, Entry, EntryInput, Stock};
use crate::web::extract::Staff;
use crate::web::AppState;

fn date(field: &str, s: &str) -> Result<chrono::NaiveDate, AppError> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        let mut f = crate::domain::fields::FieldErrors::new();
        f.add(field, "YYYY-MM-DD");
        AppError::Validation(f)
    })
}

fn csv(body: String, name: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body)
}

/// The pharmacy's controlled stock (麻薬・向精神薬).
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/ledger", tag = "ledger",
    params(("pharmacy_id" = String, Path)), responses((status = 200, body = [Stock])))]
pub async fn stock(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| ledger::stock(conn, &ctx, &pid))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Records a receipt, handover, return, disposal (with witness) or accident.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/ledger/entries", tag = "ledger",
    params(("pharmacy_id" = String, Path)), request_body = EntryInput,
    responses((status = 201, body = Entry), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn record(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<EntryInput>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let e = state
        .db(move |conn| ledger::record(conn, &ctx, &pid, &input))
        .await?;
    Ok(HttpResponse::Created().json(e))
}

/// A product's entries, oldest first.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/ledger/{product}/entries", tag = "ledger",
    params(("pharmacy_id" = String, Path), ("product" = String, Path)), responses((status = 200, body = [Entry])))]
pub async fn entries(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, product) = path.into_inner();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| ledger::entries(conn, &ctx, &pid, &product))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// A period (Japan dates).
#[derive(Debug, Deserialize, IntoParams)]
pub struct PeriodQuery {
    /// YYYY-MM-DD
    pub from: String,
    /// YYYY-MM-DD (inclusive)
    pub to: String,
}

/// The 麻薬帳簿 of a product for a period, as CSV.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/ledger/{product}/book.csv", tag = "ledger",
    params(("pharmacy_id" = String, Path), ("product" = String, Path), PeriodQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn book(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let (pid, product) = path.into_inner();
    let (from, to) = (date("from", &q.from)?, date("to", &q.to)?);
    let (ctx, name) = (s.ctx, format!("mayaku-{product}-{from}-{to}.csv"));
    let body = state
        .db(move |conn| export::book_csv(conn, &ctx, &pid, &product, from, to))
        .await?;
    Ok(csv(body, &name))
}

/// The report year.
#[derive(Debug, Deserialize, IntoParams)]
pub struct YearQuery {
    /// The year whose September 30 ends the period (October 1 of the year before to September 30).
    pub year: i32,
}

/// The annual report (前年10月1日〜9月30日) as CSV.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/ledger/annual.csv", tag = "ledger",
    params(("pharmacy_id" = String, Path), YearQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn annual(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    q: web::Query<YearQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let (ctx, year) = (s.ctx, q.year);
    let body = state
        .db(move |conn| export::annual(conn, &ctx, &pid, year).and_then(|l| export::annual_csv(&l)))
        .await?;
    Ok(csv(body, &format!("mayaku-annual-{year}.csv")))
}

/// The accident-report draft (麻薬事故届) for an accident entry, as text.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/ledger/{product}/entries/{seq}/accident-report", tag = "ledger",
    params(("pharmacy_id" = String, Path), ("product" = String, Path), ("seq" = i64, Path)),
    responses((status = 200, content_type = "text/plain", body = String), (status = 422, body = crate::error::ErrorBody)))]
pub async fn accident_report(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, product, seq) = path.into_inner();
    let ctx = s.ctx;
    let body = state
        .db(move |conn| export::accident_report(conn, &ctx, &pid, &product, seq))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(body))
}
