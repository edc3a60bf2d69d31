//! Sign-in, second factor, enrolment, sign-out and password change (API).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::enroll;
use crate::auth::hashing::Verified;
use crate::auth::login::{self, SecondFactor};
use crate::auth::session::Stage;
use crate::context::Membership;
use crate::domain::fields::FieldErrors;
use crate::domain::password::check_policy;
use crate::error::{ApiError, AppError};
use crate::web::extract::{anonymous_ctx, PartialSession, Staff};
use crate::web::{clear_session_cookie, session_cookie, AppState};

/// Credentials for `POST /api/v1/session`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignInRequest {
    pub username: String,
    pub password: String,
}

/// A session was created or advanced. `stage` says what is still needed:
/// `second_factor`, `enroll` (set up TOTP first) or `active`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionIssued {
    pub stage: String,
    /// Send as `X-CSRF-Token` with every state-changing request.
    pub csrf_token: String,
}

/// The current session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub stage: String,
    pub has_second_factor: bool,
    pub csrf_token: String,
    pub memberships: Vec<Membership>,
}

/// A TOTP code or a recovery code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondFactorRequest {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// Enrolment material.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentInfo {
    pub secret: String,
    pub otpauth_uri: String,
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    pub code: String,
}

/// Enrolment done: recovery codes (shown once) and, when the session was
/// replaced, its new CSRF token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolled {
    pub recovery_codes: Vec<String>,
    pub csrf_token: Option<String>,
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

fn issued(state: &AppState, i: login::Issued) -> HttpResponse {
    HttpResponse::Ok()
        .cookie(session_cookie(state, i.token))
        .json(SessionIssued {
            stage: i.stage.as_str().to_string(),
            csrf_token: i.csrf_token,
        })
}

/// Signs in with user name and password.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = SignInRequest,
    responses((status = 200, body = SessionIssued), (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<SignInRequest>,
) -> Result<HttpResponse, ApiError> {
    let ctx = anonymous_ctx(&req)?;
    let body = body.into_inner();
    let i = login::sign_in(
        &state.pool,
        &state.hasher,
        state.login_policy(),
        ctx,
        &body.username,
        body.password,
    )
    .await
    .map_err(AppError::from)?;
    Ok(issued(&state, i))
}

/// The signed-in user and their pharmacies.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = SessionInfo), (status = 401, body = crate::error::ErrorBody)))]
pub async fn current(s: PartialSession) -> HttpResponse {
    let s = s.session;
    HttpResponse::Ok().json(SessionInfo {
        user_id: s.user_id,
        username: s.username,
        display_name: s.display_name,
        stage: s.stage.as_str().into(),
        has_second_factor: s.has_totp,
        csrf_token: s.csrf_token,
        memberships: s.memberships,
    })
}

/// Signs out (ends this session).
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 401, body = crate::error::ErrorBody)))]
pub async fn sign_out(
    state: web::Data<AppState>,
    s: PartialSession,
) -> Result<HttpResponse, ApiError> {
    let PartialSession { session, ctx } = s;
    state
        .db(move |conn| login::sign_out(conn, &ctx, &session))
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(clear_session_cookie(&state))
        .finish())
}

/// Completes sign-in with a TOTP code (usable once) or a recovery code.
#[utoipa::path(post, path = "/api/v1/session/second-factor", tag = "session",
    request_body = SecondFactorRequest,
    responses((status = 200, body = SessionIssued), (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn second_factor(
    state: web::Data<AppState>,
    s: PartialSession,
    body: web::Json<SecondFactorRequest>,
) -> Result<HttpResponse, ApiError> {
    if s.session.stage != Stage::SecondFactor {
        return Err(
            AppError::Conflict("no second factor is awaited for this session".into()).into(),
        );
    }
    let factor = match (&body.code, &body.recovery_code) {
        (Some(c), _) if !c.trim().is_empty() => SecondFactor::Totp(c.clone()),
        (_, Some(r)) if !r.trim().is_empty() => SecondFactor::RecoveryCode(r.clone()),
        _ => {
            let mut f = FieldErrors::new();
            f.add("code", "確認コードを入力してください (code required)");
            return Err(AppError::Validation(f).into());
        }
    };
    let policy = state.login_policy();
    let PartialSession { session, ctx } = s;
    let i = state
        .db(move |conn| login::second_factor(conn, policy, &ctx, &session, factor))
        .await?;
    Ok(issued(&state, i))
}

/// Starts TOTP enrolment (required for admins and pharmacists).
#[utoipa::path(post, path = "/api/v1/account/second-factor", tag = "session",
    responses((status = 200, body = EnrolmentInfo), (status = 401, body = crate::error::ErrorBody)))]
pub async fn enroll_start(
    state: web::Data<AppState>,
    s: PartialSession,
) -> Result<HttpResponse, ApiError> {
    if s.session.stage == Stage::SecondFactor {
        return Err(AppError::Unauthorized("complete the second factor first".into()).into());
    }
    let issuer = state.settings.raw.security.totp_issuer.clone();
    let PartialSession { session, ctx } = s;
    let e = state
        .db(move |conn| enroll::start(conn, &ctx, &issuer, &session))
        .await?;
    Ok(HttpResponse::Ok().json(EnrolmentInfo {
        secret: e.secret,
        otpauth_uri: e.otpauth_uri,
    }))
}

/// Confirms TOTP enrolment with a code; returns recovery codes once.
#[utoipa::path(post, path = "/api/v1/account/second-factor/confirm", tag = "session",
    request_body = CodeRequest,
    responses((status = 200, body = Enrolled), (status = 401, body = crate::error::ErrorBody)))]
pub async fn enroll_confirm(
    state: web::Data<AppState>,
    s: PartialSession,
    body: web::Json<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    if s.session.stage == Stage::SecondFactor {
        return Err(AppError::Unauthorized("complete the second factor first".into()).into());
    }
    let policy = state.login_policy();
    let PartialSession { session, ctx } = s;
    let code = body.into_inner().code;
    let done = state
        .db(move |conn| enroll::confirm(conn, policy, &ctx, &session, &code))
        .await?;
    let mut resp = HttpResponse::Ok();
    let csrf_token = done.new_session.map(|i| {
        resp.cookie(session_cookie(&state, i.token));
        i.csrf_token
    });
    Ok(resp.json(Enrolled {
        recovery_codes: done.recovery_codes,
        csrf_token,
    }))
}

/// Changes the signed-in user's password; other sessions of the user end.
pub(crate) async fn change_password_inner(
    state: &AppState,
    s: Staff,
    change: PasswordChange,
) -> Result<(), AppError> {
    let user_id = s.session.user_id.clone();
    let uid = user_id.clone();
    let (stored, has_totp) = state
        .db(move |conn| crate::users::password_state(conn, &uid))
        .await?;
    if let Err(m) = check_policy(&change.new_password, has_totp) {
        let mut f = FieldErrors::new();
        f.add("new_password", m);
        return Err(AppError::Validation(f));
    }
    match state
        .hasher
        .verify(change.current_password, Some(stored))
        .await?
    {
        Verified::Yes { .. } => {}
        Verified::No => return Err(crate::users::UserError::WrongPassword.into()),
    }
    let new_hash = state.hasher.hash(change.new_password).await?;
    let keep = s.session.id_hash.clone();
    let ctx = s.ctx;
    state
        .db(move |conn| crate::users::set_password(conn, &ctx, &user_id, Some(&keep), &new_hash))
        .await
}

/// Changes the password (at least 12 characters with 2FA, 13 without; not a
/// common password).
#[utoipa::path(post, path = "/api/v1/account/password", tag = "session",
    request_body = PasswordChange,
    responses((status = 204), (status = 422, body = crate::error::ErrorBody)))]
pub async fn change_password(
    state: web::Data<AppState>,
    s: Staff,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    change_password_inner(&state, s, body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
