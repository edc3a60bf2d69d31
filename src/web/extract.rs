//! Extractors that turn the session loaded by the middleware into an actor and a
//! request context. API handlers take [`Staff`]; console pages take [`StaffPage`]
//! (same checks, answered with a redirect to sign-in instead of JSON).

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::state::{AppState, RequestMeta};
use crate::auth::session::{LoadedSession, Stage};
use crate::context::{Actor, Ctx};
use crate::error::{ApiError, AppError, PageError};

/// The actor a session stands for.
pub fn actor_of(s: &LoadedSession) -> Actor {
    Actor::staff(s.user_id.clone(), s.username.clone(), s.memberships.clone())
}

/// Request metadata (always present behind the middleware).
pub fn meta_of(req: &HttpRequest) -> RequestMeta {
    req.extensions()
        .get::<RequestMeta>()
        .cloned()
        .unwrap_or(RequestMeta {
            request_id: String::new(),
            client_addr: "unknown".into(),
        })
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("application state missing"))
}

/// A context for an anonymous request (sign-in).
pub fn anonymous_ctx(req: &HttpRequest) -> Result<Ctx, AppError> {
    let state = state_of(req)?;
    Ok(state.ctx(&meta_of(req), Actor::anonymous()))
}

fn authed(req: &HttpRequest, require_active: bool) -> Result<(LoadedSession, Ctx), AppError> {
    let state = state_of(req)?;
    let session = req
        .extensions()
        .get::<LoadedSession>()
        .cloned()
        .ok_or_else(|| AppError::Unauthorized("サインインしてください (sign in first)".into()))?;
    if require_active && session.stage != Stage::Active {
        return Err(AppError::Unauthorized(
            "二要素認証を完了してください (complete the second factor first)".into(),
        ));
    }
    let ctx = state.ctx(&meta_of(req), actor_of(&session));
    Ok((session, ctx))
}

macro_rules! session_extractor {
    ($(#[$doc:meta])* $name:ident, $err:ident, $active:expr) => {
        $(#[$doc])*
        pub struct $name {
            pub session: LoadedSession,
            pub ctx: Ctx,
        }

        impl FromRequest for $name {
            type Error = $err;
            type Future = Ready<Result<Self, Self::Error>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(
                    authed(req, $active)
                        .map(|(session, ctx)| $name { session, ctx })
                        .map_err($err),
                )
            }
        }
    };
}

session_extractor!(
    /// A fully signed-in staff member (API).
    Staff, ApiError, true
);
session_extractor!(
    /// A fully signed-in staff member (console page).
    StaffPage, PageError, true
);
session_extractor!(
    /// A session at any sign-in stage (API: second factor, enrolment).
    PartialSession, ApiError, false
);
session_extractor!(
    /// A session at any sign-in stage (console: second factor, enrolment).
    PartialSessionPage, PageError, false
);
