//! Console sign-in, second factor, enrolment, sign-out and account pages.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::see_other;
use crate::auth::login::{self, SecondFactor};
use crate::auth::session::Stage;
use crate::auth::{enroll, random_token};
use crate::domain::fields::FieldErrors;
use crate::error::{AppError, PageError};
use crate::web::extract::{anonymous_ctx, PartialSessionPage, StaffPage};
use crate::web::pages::{
    html, AccountPage, EnrollPage, HomePage, Layout, LoginPage, RecoveryCodesPage, SecondFactorPage,
};
use crate::web::{clear_session_cookie, csrf_cookie, session_cookie, AppState};

/// Where a session at `stage` belongs.
fn landing(stage: Stage) -> &'static str {
    match stage {
        Stage::SecondFactor => "/login/second-factor",
        Stage::Enroll => "/account/second-factor",
        Stage::Active => "/",
    }
}

/// `/`: the pharmacy chooser (or straight into the only pharmacy).
pub async fn home(state: web::Data<AppState>, s: Option<PartialSessionPage>) -> HttpResponse {
    let Some(s) = s else {
        return see_other("/login");
    };
    if s.session.stage != Stage::Active {
        return see_other(landing(s.session.stage));
    }
    // Couriers have one page: their stops.
    if !s.session.memberships.is_empty()
        && s.session
            .memberships
            .iter()
            .all(|m| m.role == crate::domain::role::Role::Courier)
    {
        return see_other("/courier");
    }
    if let [only] = s.session.memberships.as_slice() {
        return see_other(&format!("/p/{}", only.pharmacy_id));
    }
    html(&HomePage {
        layout: Layout::for_session("店舗選択", &s.session, None, state.demo_mode),
    })
}

fn login_page(
    state: &AppState,
    req: &HttpRequest,
    error: Option<String>,
    username: String,
) -> HttpResponse {
    // Double-submit token for the sign-in form (there is no session yet).
    let existing = req
        .cookie(state.csrf_cookie_name())
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty());
    let token = existing.clone().unwrap_or_else(random_token::<32>);
    let mut resp = html(&LoginPage {
        layout: Layout::anonymous("サインイン", token.clone(), state.demo_mode),
        error,
        username,
    });
    if existing.is_none() {
        let _ = resp.add_cookie(&csrf_cookie(state, token));
    }
    resp
}

/// The sign-in form.
pub async fn login_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: Option<PartialSessionPage>,
) -> HttpResponse {
    if let Some(s) = s {
        return see_other(landing(s.session.stage));
    }
    login_page(&state, &req, None, String::new())
}

/// Sign-in form fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
}

/// Signs in; continues to the second factor or enrolment as needed.
pub async fn login_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let ctx = anonymous_ctx(&req)?;
    let form = form.into_inner();
    match login::sign_in(
        &state.pool,
        &state.hasher,
        state.login_policy(),
        ctx,
        &form.username,
        form.password,
    )
    .await
    {
        Ok(i) => {
            let mut resp = see_other(landing(i.stage));
            let _ = resp.add_cookie(&session_cookie(&state, i.token));
            Ok(resp)
        }
        Err(e) => {
            let e = AppError::from(e);
            match e {
                AppError::Unauthorized(_) | AppError::TooManyRequests(_) => {
                    let status = e.status();
                    let mut resp =
                        login_page(&state, &req, Some(e.public_message()), form.username);
                    *resp.status_mut() = status;
                    Ok(resp)
                }
                other => Err(other.into()),
            }
        }
    }
}

/// The second-factor form.
pub async fn second_factor_form(state: web::Data<AppState>, s: PartialSessionPage) -> HttpResponse {
    if s.session.stage != Stage::SecondFactor {
        return see_other(landing(s.session.stage));
    }
    html(&SecondFactorPage {
        layout: Layout::anonymous("二要素認証", s.session.csrf_token.clone(), state.demo_mode),
        error: None,
    })
}

/// Second-factor form fields.
#[derive(Debug, Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub recovery_code: String,
}

/// Checks the TOTP or recovery code.
pub async fn second_factor_submit(
    state: web::Data<AppState>,
    s: PartialSessionPage,
    form: web::Form<SecondFactorForm>,
) -> Result<HttpResponse, PageError> {
    if s.session.stage != Stage::SecondFactor {
        return Ok(see_other(landing(s.session.stage)));
    }
    let factor = if !form.recovery_code.trim().is_empty() {
        SecondFactor::RecoveryCode(form.recovery_code.clone())
    } else {
        SecondFactor::Totp(form.code.clone())
    };
    let policy = state.login_policy();
    let csrf = s.session.csrf_token.clone();
    let PartialSessionPage { session, ctx } = s;
    match state
        .db(move |conn| login::second_factor(conn, policy, &ctx, &session, factor))
        .await
    {
        Ok(i) => {
            let mut resp = see_other("/");
            let _ = resp.add_cookie(&session_cookie(&state, i.token));
            Ok(resp)
        }
        Err(e @ (AppError::Unauthorized(_) | AppError::TooManyRequests(_))) => {
            let mut resp = html(&SecondFactorPage {
                layout: Layout::anonymous("二要素認証", csrf, state.demo_mode),
                error: Some(e.public_message()),
            });
            *resp.status_mut() = e.status();
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

async fn enroll_page(
    state: &AppState,
    s: PartialSessionPage,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let issuer = state.settings.raw.security.totp_issuer.clone();
    let layout = Layout::for_session("二要素認証の設定", &s.session, None, state.demo_mode);
    let PartialSessionPage { session, ctx } = s;
    let e = state
        .db(move |conn| enroll::start(conn, &ctx, &issuer, &session))
        .await?;
    Ok(html(&EnrollPage {
        layout,
        error,
        qr_svg: e.qr_svg,
        secret: e.secret,
    }))
}

/// The enrolment page (QR code and key).
pub async fn enroll_form(
    state: web::Data<AppState>,
    s: PartialSessionPage,
) -> Result<HttpResponse, PageError> {
    if s.session.stage == Stage::SecondFactor {
        return Ok(see_other(landing(s.session.stage)));
    }
    enroll_page(&state, s, None).await
}

/// Enrolment confirmation fields.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    pub code: String,
}

/// Confirms enrolment and shows the recovery codes once.
pub async fn enroll_submit(
    state: web::Data<AppState>,
    s: PartialSessionPage,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    if s.session.stage == Stage::SecondFactor {
        return Ok(see_other(landing(s.session.stage)));
    }
    let policy = state.login_policy();
    let PartialSessionPage { session, ctx } = s;
    let (sess2, ctx2) = (session.clone(), ctx.clone());
    let code = form.into_inner().code;
    match state
        .db(move |conn| enroll::confirm(conn, policy, &ctx, &session, &code))
        .await
    {
        Ok(done) => {
            let mut layout = Layout::for_session("リカバリーコード", &sess2, None, state.demo_mode);
            if let Some(i) = &done.new_session {
                layout.csrf_token = i.csrf_token.clone();
            }
            let mut resp = html(&RecoveryCodesPage {
                layout,
                codes: done.recovery_codes,
            });
            if let Some(i) = done.new_session {
                let _ = resp.add_cookie(&session_cookie(&state, i.token));
            }
            Ok(resp)
        }
        Err(e @ AppError::Unauthorized(_)) => {
            let s = PartialSessionPage {
                session: sess2,
                ctx: ctx2,
            };
            let mut resp = enroll_page(&state, s, Some(e.public_message())).await?;
            *resp.status_mut() = e.status();
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

/// Signs out.
pub async fn logout(
    state: web::Data<AppState>,
    s: Option<PartialSessionPage>,
) -> Result<HttpResponse, PageError> {
    if let Some(PartialSessionPage { session, ctx }) = s {
        state
            .db(move |conn| login::sign_out(conn, &ctx, &session))
            .await?;
    }
    let mut resp = see_other("/login");
    let _ = resp.add_cookie(&clear_session_cookie(&state));
    Ok(resp)
}

fn account_page(
    state: &AppState,
    s: &StaffPage,
    errors: FieldErrors,
    flash: Option<&str>,
) -> HttpResponse {
    let mut layout = Layout::for_session("アカウント", &s.session, None, state.demo_mode);
    if let Some(f) = flash {
        layout = layout.with_flash(f);
    }
    html(&AccountPage {
        layout,
        username: s.session.username.clone(),
        display_name: s.session.display_name.clone(),
        has_totp: s.session.has_totp,
        errors,
    })
}

/// The account page.
pub async fn account(state: web::Data<AppState>, s: StaffPage) -> HttpResponse {
    account_page(&state, &s, FieldErrors::new(), None)
}

/// Password change fields.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the password.
pub async fn change_password(
    state: web::Data<AppState>,
    s: StaffPage,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let staff = crate::web::extract::Staff {
        session: s.session.clone(),
        ctx: s.ctx.clone(),
    };
    let change = crate::routes::api::session::PasswordChange {
        current_password: form.current_password,
        new_password: form.new_password,
    };
    match crate::routes::api::session::change_password_inner(&state, staff, change).await {
        Ok(()) => Ok(account_page(
            &state,
            &s,
            FieldErrors::new(),
            Some("パスワードを変更しました"),
        )),
        Err(AppError::Validation(f)) => {
            let mut resp = account_page(&state, &s, f, None);
            *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}
