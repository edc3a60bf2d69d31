//! The patient portal pages (phone-friendly, no sign-in): a signed link shows the
//! booking and lets the patient confirm or cancel it once. Forms carry the
//! double-submit CSRF token like the sign-in form.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::random_token;
use crate::error::{AppError, PageError};
use crate::guidance::portal::{self, PortalError, PortalView};
use crate::web::pages::{html, Layout};
use crate::web::{csrf_cookie, AppState};

/// The portal page.
#[derive(Template)]
#[template(path = "portal.html")]
pub struct PortalPage {
    pub layout: Layout,
    pub token: String,
    pub v: PortalView,
    pub done: Option<&'static str>,
}

impl From<PortalError> for AppError {
    fn from(e: PortalError) -> Self {
        match e {
            PortalError::Link(_) => AppError::Forbidden(e.to_string()),
            PortalError::Used => AppError::Conflict(e.to_string()),
            PortalError::Guidance(g) => g.into(),
            PortalError::Db(d) => d.into(),
        }
    }
}

fn page(
    state: &AppState,
    req: &HttpRequest,
    token: String,
    v: PortalView,
    done: Option<&'static str>,
) -> HttpResponse {
    let existing = req
        .cookie(state.csrf_cookie_name())
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty());
    let csrf = existing.clone().unwrap_or_else(random_token::<32>);
    let mut resp = html(&PortalPage {
        layout: Layout::anonymous("オンライン服薬指導のご予約", csrf.clone(), state.demo_mode),
        token,
        v,
        done,
    });
    if existing.is_none() {
        let _ = resp.add_cookie(&csrf_cookie(state, csrf));
    }
    resp
}

/// The booking behind a link.
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let (t2, now) = (token.clone(), state.clock.now());
    let v = state
        .db(move |conn| portal::view(conn, &t2, now).map_err(AppError::from))
        .await?;
    Ok(page(&state, &req, token, v, None))
}

/// Confirm or cancel (`action`), once per link.
pub async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let f = form.into_inner();
    let cancel = f.get("action").is_some_and(|a| a == "cancel");
    let reason = f.get("reason").cloned().unwrap_or_default();
    let (t2, now, outbox) = (token.clone(), state.clock.now(), state.outbox.clone());
    let v = state
        .db(move |conn| {
            portal::act(conn, &t2, cancel, &reason, now, &outbox).map_err(AppError::from)
        })
        .await?;
    let done = if cancel {
        "ご予約を取り消しました。"
    } else {
        "ご予約を確認しました。当日お待ちしております。"
    };
    Ok(page(&state, &req, token, v, Some(done)))
}
