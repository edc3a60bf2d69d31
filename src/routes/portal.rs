//! The patient portal pages (phone-friendly, no sign-in): a booking link lets the
//! patient read the explanation, consent and pick a slot; a manage link shows the
//! booking and lets the patient confirm, move or cancel it, once. Both show the
//! pharmacy's マイナ在宅受付Web URL with its QR code. Forms carry the double-submit
//! CSRF token like the sign-in form.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::random_token;
use crate::error::{AppError, PageError};
use crate::guidance::portal::{self, PortalAction, PortalError, PortalView};
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
    /// The QR code of the マイナ在宅受付Web URL (inline SVG; empty without a URL).
    pub qr_svg: String,
}

/// The connection-test page.
#[derive(Template)]
#[template(path = "portal_test.html")]
pub struct ConnectionTestPage {
    pub layout: Layout,
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
    let qr_svg = if v.qualification_url.is_empty() {
        String::new()
    } else {
        crate::auth::totp::qr_svg(&v.qualification_url)
    };
    with_csrf(state, req, |csrf| {
        html(&PortalPage {
            layout: Layout::anonymous("オンライン服薬指導のご予約", csrf, state.demo_mode),
            token,
            v,
            done,
            qr_svg,
        })
    })
}

/// A page with the double-submit CSRF token of its forms: the visitor's cookie
/// when present, else a new token set as the cookie.
fn with_csrf(
    state: &AppState,
    req: &HttpRequest,
    page: impl FnOnce(String) -> HttpResponse,
) -> HttpResponse {
    let existing = req
        .cookie(state.csrf_cookie_name())
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty());
    let csrf = existing.clone().unwrap_or_else(random_token::<32>);
    let mut resp = page(csrf.clone());
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

/// Confirm, cancel, move or book (`action`), once per link.
pub async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let f = form.into_inner();
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (action, done) = match get("action").as_str() {
        "cancel" => (
            PortalAction::Cancel {
                reason: get("reason"),
            },
            "ご予約を取り消しました。",
        ),
        "move" => {
            let start = get("slot")
                .split_once('|')
                .map(|(a, _)| a.to_string())
                .unwrap_or_default();
            (
                PortalAction::Move {
                    start,
                    reason: get("reason"),
                },
                "ご予約の日時を変更しました。確認のメールをお送りします。",
            )
        }
        "book" => {
            let (start, pharmacist_id) = get("slot")
                .split_once('|')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .unwrap_or_default();
            (
                PortalAction::Book {
                    pharmacist_id,
                    start,
                    consent_version: f.get("consent_version").cloned(),
                },
                "ご予約を承りました。確認のメールをお送りします。",
            )
        }
        _ => (
            PortalAction::Confirm,
            "ご予約を確認しました。当日お待ちしております。",
        ),
    };
    let (t2, now, outbox, reminders) = (
        token.clone(),
        state.clock.now(),
        state.outbox.clone(),
        state.settings.raw.guidance.reminders(),
    );
    let v = state
        .db(move |conn| {
            portal::act(conn, &t2, &action, now, &outbox, &reminders).map_err(AppError::from)
        })
        .await?;
    Ok(page(&state, &req, token, v, Some(done)))
}

/// How to test camera, microphone and connection before a session.
pub async fn connection_test(state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    Ok(html(&ConnectionTestPage {
        layout: Layout::anonymous("接続テスト", String::new(), state.demo_mode),
    }))
}

fn receipt_page(
    state: &AppState,
    req: &HttpRequest,
    token: String,
    v: crate::deliveries::ReceiptView,
    done: bool,
) -> HttpResponse {
    with_csrf(state, req, |csrf| {
        html(&crate::web::delivery_pages::ReceiptPage {
            layout: Layout::anonymous("お薬の受け取りのご確認", csrf, state.demo_mode),
            token,
            v,
            done,
        })
    })
}

/// The delivery behind a receipt link (from the delivered notice).
pub async fn receipt(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let (t2, now) = (token.clone(), state.clock.now());
    let v = state
        .db(move |conn| crate::deliveries::receipt_view(conn, &t2, now).map_err(AppError::from))
        .await?;
    Ok(receipt_page(&state, &req, token, v, false))
}

/// The patient confirms receipt, once per link.
pub async fn confirm_receipt(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let (t2, now) = (token.clone(), state.clock.now());
    let v = state
        .db(move |conn| crate::deliveries::confirm_receipt(conn, &t2, now).map_err(AppError::from))
        .await?;
    Ok(receipt_page(&state, &req, token, v, true))
}
