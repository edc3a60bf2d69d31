//! Console pages for admins: pharmacy overview, staff management, audit trail.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::see_other;
use crate::domain::fields::FieldErrors;
use crate::domain::role::Role;
use crate::error::{AppError, PageError};
use crate::routes::api::audit::{list_for, AuditQuery};
use crate::routes::api::users::create_user;
use crate::users::{self, NewUserInput};
use crate::web::extract::StaffPage;
use crate::web::pages::{html, AuditLine, AuditPage, Layout, PharmacyHomePage, UsersPage};
use crate::web::AppState;

/// A pharmacy's start page.
pub async fn pharmacy_home(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let layout = Layout::for_session("店舗", &s.session, Some(&pid), state.demo_mode);
    let ctx = s.ctx;
    let p2 = pid.clone();
    let (pharmacy, attention) = state
        .db(move |conn| {
            let p = crate::pharmacies::get(conn, &ctx, &p2)?;
            let n = crate::notices::attention_count(conn, &p2)
                .map_err(crate::pharmacies::PharmacyError::from)?;
            Ok::<_, crate::pharmacies::PharmacyError>((p, n))
        })
        .await?;
    Ok(html(&PharmacyHomePage {
        layout,
        pharmacy,
        attention,
    }))
}

async fn users_page(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    new_password: Option<String>,
    errors: FieldErrors,
) -> Result<HttpResponse, PageError> {
    let (ctx, p2) = (s.ctx.clone(), pid.to_string());
    let staff = state.db(move |conn| users::list(conn, &ctx, &p2)).await?;
    let mut resp = html(&UsersPage {
        layout: Layout::for_session("スタッフ管理", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        staff,
        roles: Role::ALL.to_vec(),
        new_password,
        errors: errors.clone(),
    });
    if !errors.is_empty() {
        *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// The staff list.
pub async fn users_list(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    users_page(&state, &s, &path.into_inner(), None, FieldErrors::new()).await
}

/// New account form fields.
#[derive(Debug, Deserialize)]
pub struct NewUserForm {
    pub username: String,
    pub display_name: String,
    pub role: String,
}

/// Adds an account with a generated initial password (shown once).
pub async fn users_create(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    form: web::Form<NewUserForm>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let form = form.into_inner();
    let role = match Role::parse(&form.role) {
        Ok(r) => r,
        Err(m) => {
            let mut f = FieldErrors::new();
            f.add("role", m);
            return users_page(&state, &s, &pid, None, f).await;
        }
    };
    let input = NewUserInput {
        username: form.username,
        display_name: form.display_name,
        role,
        password: None,
    };
    match create_user(&state, s.ctx.clone(), pid.clone(), input).await {
        Ok(created) => {
            users_page(
                &state,
                &s,
                &pid,
                created.initial_password,
                FieldErrors::new(),
            )
            .await
        }
        Err(AppError::Validation(f)) => users_page(&state, &s, &pid, None, f).await,
        Err(AppError::Conflict(m)) => {
            let mut f = FieldErrors::new();
            f.add("username", m);
            users_page(&state, &s, &pid, None, f).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Role change fields.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    pub role: String,
}

/// Changes a role.
pub async fn users_role(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, PageError> {
    let (pid, uid) = path.into_inner();
    let role = Role::parse(&form.role).map_err(|m| {
        let mut f = FieldErrors::new();
        f.add("role", m);
        AppError::Validation(f)
    })?;
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    state
        .db(move |conn| users::set_role(conn, &ctx, &p2, &uid, role, false))
        .await?;
    Ok(see_other(&format!("/p/{pid}/users")))
}

/// Disables, enables or resets the second factor of an account.
pub async fn users_action(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, uid, action) = path.into_inner();
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    state
        .db(move |conn| match action.as_str() {
            "disable" => users::disable(conn, &ctx, &p2, &uid),
            "enable" => users::enable(conn, &ctx, &p2, &uid),
            "reset-2fa" => users::reset_second_factor(conn, &ctx, &p2, &uid),
            _ => Err(users::UserError::NotFound),
        })
        .await?;
    Ok(see_other(&format!("/p/{pid}/users")))
}

/// The audit trail page.
pub async fn audit(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let q = q.into_inner();
    let layout = Layout::for_session("監査ログ", &s.session, Some(&pid), state.demo_mode);
    let get = |v: &Option<String>| v.clone().unwrap_or_default();
    let base_query = serde_urlencoded::to_string([
        ("action", get(&q.action)),
        ("actor", get(&q.actor)),
        ("subject_id", get(&q.subject_id)),
        ("outcome", get(&q.outcome)),
        ("from", get(&q.from)),
        ("until", get(&q.until)),
    ])
    .unwrap_or_default();
    let (rows, error) = match q.to_filter() {
        Ok(filter) => {
            let (ctx, p2) = (s.ctx.clone(), pid.clone());
            let rows = state
                .db(move |conn| list_for(conn, &ctx, &p2, &filter))
                .await?;
            (rows, None)
        }
        Err(f) => (Vec::new(), Some(f.to_string())),
    };
    let older = (rows.len() >= 100)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    let tz = state.settings.time_zone;
    Ok(html(&AuditPage {
        layout,
        rows: rows
            .into_iter()
            .map(|r| AuditLine::from_row(r, tz))
            .collect(),
        q_action: get(&q.action),
        q_actor: get(&q.actor),
        q_subject: get(&q.subject_id),
        q_outcome: get(&q.outcome),
        q_from: get(&q.from),
        q_until: get(&q.until),
        base_query,
        older,
        error,
    }))
}
