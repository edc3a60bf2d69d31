//! Errors: every use case has its own error type; this module is the one place
//! where they become HTTP statuses, as a JSON body for the API and an HTML page for
//! the console. Internal details are logged, never shown.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use thiserror::Error;
use utoipa::ToSchema;

use crate::domain::fields::FieldErrors;

/// The error every handler ends up with.
#[derive(Debug, Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("入力内容を確認してください (invalid input): {0}")]
    Validation(FieldErrors),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unavailable(String),
    /// An outside service refused (its message is shown).
    #[error("{0}")]
    Refused(String),
    /// An outside service answered something unreadable.
    #[error("{0}")]
    BadGateway(String),
    /// Logged with its cause; the client sees a generic message.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// The single status mapping.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::Validation(_) => "validation",
            AppError::TooManyRequests(_) => "too_many_requests",
            AppError::Unavailable(_) => "unavailable",
            AppError::Refused(_) => "refused",
            AppError::BadGateway(_) => "bad_gateway",
            AppError::Internal(_) => "internal",
        }
    }

    /// The message shown to people (never internal details).
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => {
                "内部エラーが発生しました (internal error); the request id identifies it in the logs"
                    .to_string()
            }
            AppError::Validation(_) => "入力内容を確認してください (invalid input)".to_string(),
            other => other.to_string(),
        }
    }

    fn log(&self) {
        if let AppError::Internal(detail) = self {
            tracing::error!(error = %detail, "internal error");
        }
    }

    /// Shorthand for an internal error from anything displayable.
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => {
                AppError::NotFound("見つかりません (not found)".into())
            }
            other => AppError::Internal(format!("database: {other}")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(error = %e, "database pool exhausted or unreachable");
        AppError::Unavailable(
            "データベースに接続できません (database unavailable); please retry".into(),
        )
    }
}

impl From<crate::context::Denied> for AppError {
    fn from(_: crate::context::Denied) -> Self {
        AppError::Forbidden("権限がありません (not allowed)".into())
    }
}

impl From<FieldErrors> for AppError {
    fn from(e: FieldErrors) -> Self {
        AppError::Validation(e)
    }
}

/// JSON error body of the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `validation`, `not_found`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Per-field problems (validation errors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldErrors>,
}

/// An [`AppError`] answered as JSON (API routes).
#[derive(Debug, Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub AppError);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        let fields = match &self.0 {
            AppError::Validation(f) => Some(f.clone()),
            _ => None,
        };
        let mut resp = HttpResponse::build(self.0.status());
        if matches!(self.0, AppError::TooManyRequests(_)) {
            resp.insert_header((header::RETRY_AFTER, "3600"));
        }
        resp.json(ErrorBody {
            error: ErrorDetail {
                code: self.0.code().to_string(),
                message: self.0.public_message(),
                fields,
            },
        })
    }
}

/// An [`AppError`] answered as an HTML page (console routes). 401 redirects to sign-in.
#[derive(Debug, Error)]
#[error(transparent)]
pub struct PageError(#[from] pub AppError);

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self.0 {
            AppError::Unauthorized(_) => StatusCode::SEE_OTHER,
            _ => self.0.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        if let AppError::Unauthorized(_) = self.0 {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish();
        }
        let fields = match &self.0 {
            AppError::Validation(f) => f.0.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
            _ => Vec::new(),
        };
        let html = crate::web::pages::render_error_page(
            self.0.status().as_u16(),
            &self.0.public_message(),
            &fields,
        );
        HttpResponse::build(self.0.status())
            .content_type("text/html; charset=utf-8")
            .body(html)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError(e.into())
    }
}

impl From<diesel::result::Error> for PageError {
    fn from(e: diesel::result::Error) -> Self {
        PageError(e.into())
    }
}

// ---- Use-case errors to statuses: the one mapping ----

impl From<crate::auth::login::LoginError> for AppError {
    fn from(e: crate::auth::login::LoginError) -> Self {
        use crate::auth::login::LoginError as L;
        use crate::auth::totp::TotpError;
        match e {
            L::InvalidCredentials => AppError::Unauthorized(e.to_string()),
            L::RateLimited => AppError::TooManyRequests(e.to_string()),
            L::SecondFactor(TotpError::BadSecret) => AppError::BadRequest(
                "二要素認証が設定されていません (no second factor enrolled)".into(),
            ),
            L::SecondFactor(t) => AppError::Unauthorized(t.to_string()),
            L::Busy => AppError::Unavailable(e.to_string()),
            L::Db(d) => d.into(),
            L::Pool(p) => p.into(),
        }
    }
}

impl From<crate::auth::hashing::Busy> for AppError {
    fn from(e: crate::auth::hashing::Busy) -> Self {
        AppError::Unavailable(e.to_string())
    }
}

impl From<crate::patients::PatientError> for AppError {
    fn from(e: crate::patients::PatientError) -> Self {
        use crate::patients::PatientError as P;
        match e {
            P::Invalid(f) => AppError::Validation(f),
            P::NotFound => AppError::NotFound(e.to_string()),
            P::Forbidden(_) => AppError::Forbidden(e.to_string()),
            P::VersionConflict { .. } => AppError::Conflict(e.to_string()),
            P::Db(d) => d.into(),
        }
    }
}

impl From<crate::users::UserError> for AppError {
    fn from(e: crate::users::UserError) -> Self {
        use crate::users::UserError as U;
        match e {
            U::Invalid(f) => AppError::Validation(f),
            U::UsernameTaken(_) | U::SelfAction(_) => AppError::Conflict(e.to_string()),
            U::NotFound => AppError::NotFound(e.to_string()),
            U::Forbidden(_) => AppError::Forbidden(e.to_string()),
            U::WrongPassword => {
                let mut f = FieldErrors::new();
                f.add("current_password", e.to_string());
                AppError::Validation(f)
            }
            U::Busy => AppError::Unavailable(e.to_string()),
            U::Db(d) => d.into(),
        }
    }
}

impl From<crate::pharmacies::PharmacyError> for AppError {
    fn from(e: crate::pharmacies::PharmacyError) -> Self {
        use crate::pharmacies::PharmacyError as P;
        match e {
            P::Invalid(f) => AppError::Validation(f),
            P::DuplicateCode(_) => AppError::Conflict(e.to_string()),
            P::NotFound => AppError::NotFound(e.to_string()),
            P::Forbidden(_) => AppError::Forbidden(e.to_string()),
            P::Db(d) => d.into(),
        }
    }
}

impl From<crate::notices::NoticeError> for AppError {
    fn from(e: crate::notices::NoticeError) -> Self {
        use crate::notices::NoticeError as N;
        match e {
            N::NotFound => AppError::NotFound(e.to_string()),
            N::Forbidden(_) => AppError::Forbidden(e.to_string()),
            N::WrongState(_) => AppError::Conflict(e.to_string()),
            N::InvalidAddress(_) => {
                let mut f = FieldErrors::new();
                f.add("to", e.to_string());
                AppError::Validation(f)
            }
            // A template or feature bug: refuse (fail closed) and log.
            N::PrivacyLeak { .. } | N::Render(_) => AppError::Internal(e.to_string()),
            N::Db(d) => d.into(),
        }
    }
}

impl From<crate::clinics::ClinicError> for AppError {
    fn from(e: crate::clinics::ClinicError) -> Self {
        use crate::clinics::ClinicError as C;
        match e {
            C::Invalid(f) => AppError::Validation(f),
            C::NotFound => AppError::NotFound(e.to_string()),
            C::Forbidden(_) => AppError::Forbidden(e.to_string()),
            C::VersionConflict { .. } => AppError::Conflict(e.to_string()),
            C::Db(d) => d.into(),
        }
    }
}

impl From<crate::medications::MedicationError> for AppError {
    fn from(e: crate::medications::MedicationError) -> Self {
        use crate::medications::MedicationError as M;
        match e {
            M::Invalid(f) => AppError::Validation(f),
            M::NotFound => AppError::NotFound(e.to_string()),
            M::Forbidden(_) => AppError::Forbidden(e.to_string()),
            M::Db(d) => d.into(),
        }
    }
}

impl From<crate::eps::EpsError> for AppError {
    fn from(e: crate::eps::EpsError) -> Self {
        use crate::eps::EpsError as E;
        match e {
            E::Invalid(f) => AppError::Validation(f),
            E::PatientData(_) | E::Refused { .. } => AppError::Refused(e.to_string()),
            E::NotConfigured | E::Unavailable(_) => AppError::Unavailable(e.to_string()),
            E::Forbidden(_) => AppError::Forbidden(e.to_string()),
            E::NotFound => AppError::NotFound(e.to_string()),
            E::InProgress { .. } | E::AlreadyAccepted { .. } | E::WrongState(_) => {
                AppError::Conflict(e.to_string())
            }
            E::BadMessage { .. } | E::BadPayload(_) => AppError::BadGateway(e.to_string()),
            E::Prescription(p) => p.into(),
            E::Db(d) => d.into(),
        }
    }
}

impl From<crate::prescriptions::PrescriptionError> for AppError {
    fn from(e: crate::prescriptions::PrescriptionError) -> Self {
        use crate::prescriptions::PrescriptionError as P;
        match e {
            P::Invalid(f) => AppError::Validation(f),
            P::NotFound => AppError::NotFound(e.to_string()),
            P::Forbidden(_) => AppError::Forbidden(e.to_string()),
            P::UnresolvedFindings(_)
            | P::WrongState(_)
            | P::VersionConflict(_)
            | P::Blocked(_)
            | P::HandoverBlocked(_) => AppError::Conflict(e.to_string()),
            P::Db(d) => d.into(),
        }
    }
}

impl From<crate::copies::CopyError> for AppError {
    fn from(e: crate::copies::CopyError) -> Self {
        use crate::copies::CopyError as C;
        match e {
            C::Invalid(f) => AppError::Validation(f),
            C::NotFound => AppError::NotFound(e.to_string()),
            C::Forbidden(_) => AppError::Forbidden(e.to_string()),
            C::Rejected { .. } => AppError::Refused(e.to_string()),
            C::TooLarge(_) => AppError::PayloadTooLarge(e.to_string()),
            C::WrongState(_) => AppError::Conflict(e.to_string()),
            C::Storage(m) => AppError::Internal(format!("file store: {m}")),
            C::Prescription(p) => p.into(),
            C::Db(d) => d.into(),
        }
    }
}

impl From<crate::tasks::TaskError> for AppError {
    fn from(e: crate::tasks::TaskError) -> Self {
        use crate::tasks::TaskError as T;
        match e {
            T::NotFound => AppError::NotFound(e.to_string()),
            T::Forbidden(_) => AppError::Forbidden(e.to_string()),
            T::Db(d) => d.into(),
        }
    }
}

impl From<crate::deliveries::DeliveryError> for AppError {
    fn from(e: crate::deliveries::DeliveryError) -> Self {
        use crate::deliveries::DeliveryError as D;
        match e {
            D::Invalid(f) => AppError::Validation(f),
            D::Forbidden(_) => AppError::Forbidden(e.to_string()),
            D::NotFound => AppError::NotFound(e.to_string()),
            D::MethodRefused(_) => AppError::Refused(e.to_string()),
            D::NotAssigned => AppError::Forbidden(e.to_string()),
            D::CodeWrong { .. } => AppError::Refused(e.to_string()),
            D::GuidanceNotCompleted(_)
            | D::NeedsConfirmation(_)
            | D::WrongState(_)
            | D::CodeLocked
            | D::CodeUsed
            | D::Quarantined(_)
            | D::HandoverBlocked(_) => AppError::Conflict(e.to_string()),
            D::Db(d) => d.into(),
        }
    }
}

impl From<crate::ledger::LedgerError> for AppError {
    fn from(e: crate::ledger::LedgerError) -> Self {
        use crate::ledger::LedgerError as L;
        match e {
            L::Invalid(f) => AppError::Validation(f),
            L::Forbidden(_) => AppError::Forbidden(e.to_string()),
            L::NotFound => AppError::NotFound(e.to_string()),
            L::Balance { .. } => AppError::Conflict(e.to_string()),
            L::Export(m) => AppError::Internal(format!("ledger export: {m}")),
            L::Db(d) => d.into(),
        }
    }
}

impl From<crate::guidance::GuidanceError> for AppError {
    fn from(e: crate::guidance::GuidanceError) -> Self {
        use crate::guidance::GuidanceError as G;
        match e {
            G::Invalid(f) => AppError::Validation(f),
            G::NotFound => AppError::NotFound(e.to_string()),
            G::Forbidden(_) => AppError::Forbidden(e.to_string()),
            G::SlotTaken | G::WrongState(_) => AppError::Conflict(e.to_string()),
            G::OutsideConsent(_) => AppError::Forbidden(e.to_string()),
            G::Refused { .. } => AppError::Refused(e.to_string()),
            G::NotConfigured | G::Unavailable(_) => AppError::Unavailable(e.to_string()),
            G::Db(d) => d.into(),
        }
    }
}
