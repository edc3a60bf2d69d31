//! The HTTP side: application state, middleware, extractors, page rendering, and
//! the server itself (plain HTTP on localhost, or TLS 1.2+/1.3 with rustls).

pub mod copy_pages;
pub mod delivery_pages;
pub mod extract;
pub mod guidance_pages;
pub mod idempotency;
pub mod middleware;
pub mod pages;
pub mod server;
pub mod state;

pub use state::{AppState, RequestMeta};

use actix_web::cookie::{Cookie, SameSite};

/// The session cookie: `HttpOnly`, `SameSite=Lax`, `Secure` unless configured off
/// for plain-HTTP localhost; no expiry (the server decides when it ends).
pub fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(state.session_cookie_name(), token)
        .path("/")
        .http_only(true)
        .secure(state.settings.raw.server.cookie_secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// A cookie that removes the session cookie.
pub fn clear_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = session_cookie(state, String::new());
    c.make_removal();
    c
}

/// The pre-sign-in CSRF cookie (double submit on the sign-in form).
pub fn csrf_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(state.csrf_cookie_name(), token)
        .path("/")
        .http_only(true)
        .secure(state.settings.raw.server.cookie_secure)
        .same_site(SameSite::Strict)
        .finish()
}
