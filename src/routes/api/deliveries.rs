//! Home deliveries (API): creation from dispensed prescriptions whose guidance is
//! completed, the board, steps, the handover at the door, the pharmacy's phone
//! confirmation of a proxy, a new handover code, logger readings (JSON batches
//! and CSV exports), the trip's temperatures, quarantine decisions, and the
//! courier's own stops.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::deliveries::{
    self, BoardRow, CourierStop, DecisionInput, DeliveryDetail, DeliveryInput, HandoverInput,
    Ingested, ProxyInput, ReadingsBatch, StepInput, Trip,
};
use crate::error::{ApiError, AppError};
use crate::web::extract::Staff;
use crate::web::AppState;

type Ids = web::Path<(String, String)>;

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

/// Board filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct BoardQuery {
    /// `YYYY-MM-DD` (Japan time; default today).
    pub day: Option<String>,
    /// One state only; `quarantined`: every delivery awaiting a pharmacist's
    /// decision, whatever its day.
    pub state: Option<String>,
}

/// The delivery board: deliveries whose window starts on a day, by state.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries", tag = "deliveries",
    params(("pharmacy_id" = String, Path), BoardQuery),
    responses((status = 200, body = Vec<BoardRow>)))]
pub async fn board(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    q: web::Query<BoardQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let day = match q.day.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| AppError::BadRequest("day: YYYY-MM-DD".into()))?,
        None => ctx.today(),
    };
    let st = q.state.clone();
    let rows = state
        .db(move |conn| deliveries::board(conn, &ctx, &pid, day, st.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// A delivery with its contents and timeline.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    s: Staff,
    path: Ids,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let d = state
        .db(move |conn| deliveries::get(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// Moves a delivery one step (sealed with seal and logger, handed to courier
/// with a new code and the shipped notice, out for delivery, failed attempt with
/// the next attempt, returned); no step may be skipped. The assigned courier may
/// record the road steps.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/steps", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)), request_body = StepInput,
    responses((status = 200, body = DeliveryDetail), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn advance(
    state: web::Data<AppState>,
    s: Staff,
    path: Ids,
    body: web::Json<StepInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, input, outbox) = (s.ctx, body.into_inner(), state.outbox.clone());
    let d = state
        .db(move |conn| deliveries::advance(conn, &ctx, &outbox, &pid, &id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// Confirms the handover at the door: the patient's 6-digit code (422 wrong,
/// 409 locked or used) or a proxy the pharmacy confirmed by phone; refused in
/// quarantine or while a prescription may not be handed over (409), and for a
/// courier not assigned (403).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/handover", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)), request_body = HandoverInput,
    responses((status = 200, body = DeliveryDetail), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn hand_over(
    state: web::Data<AppState>,
    s: Staff,
    path: Ids,
    body: web::Json<HandoverInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, input, outbox) = (s.ctx, body.into_inner(), state.outbox.clone());
    let after = state.settings.raw.delivery.followup_after();
    let d = state
        .db(move |conn| deliveries::hand_over(conn, &ctx, &outbox, after, &pid, &id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// Records the pharmacy's phone confirmation of a family member or carer who
/// will receive the parcel (staff).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/proxy", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)), request_body = ProxyInput,
    responses((status = 200, body = DeliveryDetail), (status = 403, body = crate::error::ErrorBody)))]
pub async fn proxy(
    state: web::Data<AppState>,
    s: Staff,
    path: Ids,
    body: web::Json<ProxyInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let d = state
        .db(move |conn| deliveries::confirm_proxy(conn, &ctx, &pid, &id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// A new handover code (after a lock), sent to the patient again (staff).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/code", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 409, body = crate::error::ErrorBody)))]
pub async fn reissue_code(
    state: web::Data<AppState>,
    s: Staff,
    path: Ids,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, outbox) = (s.ctx, state.outbox.clone());
    let d = state
        .db(move |conn| deliveries::reissue_code(conn, &ctx, &outbox, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// Logger readings, batched (up to 20,000), idempotent by logger serial and time;
/// a problem quarantines the delivery.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/readings", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)), request_body = ReadingsBatch,
    responses((status = 200, body = Ingested), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn readings(
    state: web::Data<AppState>,
    s: Staff,
    path: Ids,
    body: web::Json<ReadingsBatch>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, batch, outbox) = (s.ctx, body.into_inner(), state.outbox.clone());
    let r = state
        .db(move |conn| deliveries::ingest(conn, &ctx, &outbox, &pid, &id, &batch))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// The logger named in a CSV upload.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CsvQuery {
    /// Needed when the export does not name its logger.
    pub logger_serial: Option<String>,
}

/// A logger's CSV export (body `text/csv`); same rules as the JSON batches.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/readings.csv", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path), CsvQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = Ingested), (status = 422, body = crate::error::ErrorBody)))]
pub async fn readings_csv(
    state: web::Data<AppState>,
    s: Staff,
    path: Ids,
    q: web::Query<CsvQuery>,
    body: String,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, outbox) = (s.ctx, state.outbox.clone());
    let serial = q.logger_serial.clone().unwrap_or_default();
    let r = state
        .db(move |conn| deliveries::ingest_csv(conn, &ctx, &outbox, &pid, &id, &serial, &body))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// The trip's readings and, per product, excursions, gaps and MKT.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/temperatures", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = Trip)))]
pub async fn temperatures(
    state: web::Data<AppState>,
    s: Staff,
    path: Ids,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let t = state
        .db(move |conn| deliveries::trip(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(t))
}

/// A pharmacist's decision on a quarantined delivery: use, return or destroy,
/// with a reason (anyone else: 403).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/quarantine-decision", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)), request_body = DecisionInput,
    responses((status = 200, body = DeliveryDetail), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn decide(
    state: web::Data<AppState>,
    s: Staff,
    path: Ids,
    body: web::Json<DecisionInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let d = state
        .db(move |conn| deliveries::decide_quarantine(conn, &ctx, &pid, &id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// The signed-in courier's open stops (no contents).
#[utoipa::path(get, path = "/api/v1/courier/deliveries", tag = "deliveries",
    responses((status = 200, body = Vec<CourierStop>)))]
pub async fn courier_list(state: web::Data<AppState>, s: Staff) -> Result<HttpResponse, ApiError> {
    let ctx = s.ctx;
    let r = state
        .db(move |conn| deliveries::courier_list(conn, &ctx))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// One of the signed-in courier's stops (404 for anyone else's).
#[utoipa::path(get, path = "/api/v1/courier/pharmacies/{pharmacy_id}/deliveries/{delivery_id}", tag = "deliveries",
    params(("pharmacy_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = CourierStop), (status = 404, body = crate::error::ErrorBody)))]
pub async fn courier_view(
    state: web::Data<AppState>,
    s: Staff,
    path: Ids,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let r = state
        .db(move |conn| deliveries::courier_view(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}
