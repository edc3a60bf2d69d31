//! The OpenAPI document of the JSON API, served at `/api/openapi.json`.

use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::api;

/// The API description (generated from the handlers' annotations).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "pharmacy API",
        description = "Prescription intake, checks, guidance and delivery for Japanese pharmacies. \
            Authenticate with POST /api/v1/session (cookie); send X-CSRF-Token on every \
            state-changing request.",
        version = "1"
    ),
    paths(
        super::healthz,
        api::session::sign_in,
        api::session::current,
        api::session::sign_out,
        api::session::second_factor,
        api::session::enroll_start,
        api::session::enroll_confirm,
        api::session::change_password,
        api::pharmacies::list,
        api::pharmacies::get,
        api::pharmacies::update,
        api::patients::search,
        api::patients::create,
        api::patients::get,
        api::patients::update,
        api::users::list,
        api::users::create,
        api::users::set_role,
        api::users::disable,
        api::users::enable,
        api::users::reset_second_factor,
        api::audit::list,
        api::notices::list,
        api::notices::get,
        api::notices::resend,
        api::notices::contacted,
        api::notices::send_test,
        api::clinics::list,
        api::clinics::create,
        api::clinics::get,
        api::clinics::update,
    ),
    components(schemas(
        crate::error::ErrorBody,
        crate::error::ErrorDetail,
        crate::domain::fields::FieldErrors,
        crate::domain::patient::PatientInput,
        crate::domain::patient::PublicExpense,
        crate::domain::patient::Sex,
        crate::domain::pharmacy::PharmacyInput,
        crate::domain::role::Role,
        crate::context::Membership,
        crate::patients::Patient,
        crate::patients::PatientSummary,
        crate::pharmacies::Pharmacy,
        crate::users::StaffMember,
        crate::users::NewUserInput,
        crate::audit::AuditRow,
        api::session::SignInRequest,
        api::session::SessionIssued,
        api::session::SessionInfo,
        api::session::SecondFactorRequest,
        api::session::EnrolmentInfo,
        api::session::CodeRequest,
        api::session::Enrolled,
        api::session::PasswordChange,
        api::patients::PatientUpdate,
        api::users::UserCreated,
        api::users::RoleChange,
        api::notices::TestNoticeRequest,
        crate::notices::Notification,
        crate::notices::NotificationDetail,
        crate::jobs::Attempt,
        crate::clinics::Clinic,
        crate::domain::clinic::ClinicInput,
        api::clinics::ClinicUpdate,
    )),
    tags(
        (name = "session", description = "Sign-in, second factor, sign-out"),
        (name = "pharmacies", description = "Pharmacies of the chain"),
        (name = "patients", description = "Patient records (every read is audited)"),
        (name = "users", description = "Staff accounts (admins)"),
        (name = "audit", description = "Audit trail (admins)"),
        (name = "clinics", description = "Clinics directory (admins edit)"),
        (name = "notices", description = "E-mail notices outbox: status, history, resend"),
        (name = "health", description = "Liveness"),
    )
)]
pub struct ApiDoc;

/// Serves the document.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
