//! Online guidance beyond scheduling (API): consents, the national services'
//! eligibility and drug information, booking links for patients, the day view,
//! holding a session, the first-visit review and the signed guidance records.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::guidance::record::RecordInput;
use crate::error::{ApiError, AppError};
use crate::guidance::conduct::{self, FinishInput, StartInput};
use crate::guidance::consents::{self, Consent, ConsentInput};
use crate::guidance::qualification::{self, DrugInfoLine, EligibilityInput, EligibilityRequest};
use crate::guidance::records::{self, GuidanceRecord};
use crate::guidance::views::{self, DayLine, SessionDetail};
use crate::guidance::{portal, Session};
use crate::web::extract::Staff;
use crate::web::AppState;

/// Records a consent: to online guidance (explanation shown, its version) or to
/// the viewing of qualification and drug information for a booking.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/patients/{patient_id}/consents", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("patient_id" = String, Path)), request_body = ConsentInput,
    responses((status = 201, body = Consent), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn record_consent(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<ConsentInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, patient) = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let c = state
        .db(move |conn| consents::record(conn, &ctx, &pid, &patient, &input))
        .await?;
    Ok(HttpResponse::Created().json(c))
}

/// The patient's consents, newest first.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/patients/{patient_id}/consents", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("patient_id" = String, Path)),
    responses((status = 200, body = [Consent])))]
pub async fn list_consents(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, patient) = path.into_inner();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| consents::list(conn, &ctx, &pid, &patient))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Fetches the patient's drug information (薬剤情報) from the national services;
/// refused (403, audited, not sent) outside the viewing consent's window.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/patients/{patient_id}/drug-information", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("patient_id" = String, Path)),
    responses((status = 200, body = [DrugInfoLine]), (status = 403, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn fetch_drug_information(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, patient) = path.into_inner();
    let (ctx, gw, now) = (s.ctx, state.gateway(), state.clock.now());
    let rows = state
        .db(move |conn| {
            qualification::fetch_drug_information(conn, &ctx, gw.as_ref(), &pid, &patient, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// A booking link for a patient.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct InvitationInput {
    /// The prescription the guidance is for.
    pub prescription_id: Option<String>,
}

/// The link sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub url: String,
}

/// Sends the patient a booking link by e-mail (valid two weeks, usable once).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/patients/{patient_id}/invitations", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("patient_id" = String, Path)), request_body = InvitationInput,
    responses((status = 201, body = Invitation), (status = 404, body = crate::error::ErrorBody)))]
pub async fn invite(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<InvitationInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, patient) = path.into_inner();
    let (ctx, b, outbox) = (s.ctx, body.into_inner(), state.outbox.clone());
    let url = state
        .db(move |conn| {
            portal::invite(
                conn,
                &ctx,
                &outbox,
                &pid,
                &patient,
                b.prescription_id.as_deref(),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(Invitation { url }))
}

/// Queues a bulk eligibility request (result fetched later by receipt number).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/eligibility", tag = "guidance",
    params(("pharmacy_id" = String, Path)), request_body = EligibilityInput,
    responses((status = 202, body = EligibilityRequest), (status = 422, body = crate::error::ErrorBody)))]
pub async fn request_eligibility(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    body: web::Json<EligibilityInput>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let (ctx, input, dead, configured) = (
        s.ctx,
        body.into_inner(),
        state.outbox.dead_after,
        state.gateway().is_some(),
    );
    let r = state
        .db(move |conn| {
            qualification::request_eligibility(conn, &ctx, dead, configured, &pid, &input)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(r))
}

/// The pharmacy's eligibility requests and their results.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/eligibility", tag = "guidance",
    params(("pharmacy_id" = String, Path)),
    responses((status = 200, body = [EligibilityRequest])))]
pub async fn list_eligibility(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| qualification::eligibility_requests(conn, &ctx, &pid))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// The day to show.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DayQuery {
    /// YYYY-MM-DD (Japan time)
    pub date: String,
    /// Only this pharmacist's sessions.
    pub pharmacist_id: Option<String>,
}

pub(crate) fn parse_day(s: &str) -> Result<chrono::NaiveDate, AppError> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        let mut f = crate::domain::fields::FieldErrors::new();
        f.add("date", "日付は YYYY-MM-DD (date as YYYY-MM-DD)");
        AppError::Validation(f)
    })
}

/// The sessions of a day with their patients, prescriptions and consent state.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/day", tag = "guidance",
    params(("pharmacy_id" = String, Path), DayQuery),
    responses((status = 200, body = [DayLine])))]
pub async fn day(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    q: web::Query<DayQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let day = parse_day(&q.date)?;
    let (ctx, who) = (s.ctx, q.into_inner().pharmacist_id);
    let rows = state
        .db(move |conn| views::day(conn, &ctx, &pid, day, who.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// One session with its consents, record versions and drug information.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("session_id" = String, Path)),
    responses((status = 200, body = SessionDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn detail(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let d = state
        .db(move |conn| views::detail(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// Opens a session: identity check, who is present, the meeting link; the start is logged.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/start", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("session_id" = String, Path)), request_body = StartInput,
    responses((status = 200, body = Session), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn start(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<StartInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let r = state
        .db(move |conn| conduct::start(conn, &ctx, &pid, &id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Records how a session ended (completed, or what happens after a failure).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/finish", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("session_id" = String, Path)), request_body = FinishInput,
    responses((status = 200, body = Session), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn finish(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<FinishInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let r = state
        .db(move |conn| conduct::finish(conn, &ctx, &pid, &id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// A pharmacist's first-visit review.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ReviewInput {
    pub note: String,
}

/// Records the pharmacist's review of a flagged first visit.
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/review", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("session_id" = String, Path)), request_body = ReviewInput,
    responses((status = 200, body = Session), (status = 409, body = crate::error::ErrorBody)))]
pub async fn review(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<ReviewInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, b) = (s.ctx, body.into_inner());
    let r = state
        .db(move |conn| conduct::review(conn, &ctx, &pid, &id, &b.note))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Signs the guidance record (first version) or a correction (a new version with its reason).
#[utoipa::path(post, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/records", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("session_id" = String, Path)), request_body = RecordInput,
    responses((status = 201, body = GuidanceRecord), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn sign_record(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
    body: web::Json<RecordInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let (ctx, input) = (s.ctx, body.into_inner());
    let r = state
        .db(move |conn| records::sign(conn, &ctx, &pid, &id, &input))
        .await?;
    Ok(HttpResponse::Created().json(r))
}

/// Every signed version of a session's record, oldest first.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/records", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("session_id" = String, Path)),
    responses((status = 200, body = [GuidanceRecord])))]
pub async fn record_versions(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, id) = path.into_inner();
    let ctx = s.ctx;
    let r = state
        .db(move |conn| records::versions(conn, &ctx, &pid, &id))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Whether a prescription's guidance is completed (delivery may start only then).
#[derive(Debug, Serialize, ToSchema)]
pub struct GuidanceState {
    pub completed: bool,
}

/// Whether delivery of a prescription may start (its guidance is completed).
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/guidance", tag = "guidance",
    params(("pharmacy_id" = String, Path), ("prescription_id" = String, Path)),
    responses((status = 200, body = GuidanceState)))]
pub async fn prescription_guidance(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, rx) = path.into_inner();
    let ctx = s.ctx;
    let completed = state
        .db(move |conn| conduct::completed_for(conn, &ctx, &pid, &rx))
        .await?;
    Ok(HttpResponse::Ok().json(GuidanceState { completed }))
}
