//! Request-wide layers: request id, client address and logging; the session and
//! CSRF check; security headers.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};

use super::state::{AppState, RequestMeta};
use crate::auth::session::{self, Lookup};
use crate::context::Actor;
use crate::error::{ApiError, AppError, PageError};

/// Request id, client address, structured access log (method, path without the
/// query string, status, time). No query strings, bodies or cookies are logged:
/// they may hold patient names or secrets.
pub async fn request_meta(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let trust_proxy = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.raw.server.trust_proxy_headers)
        .unwrap_or(false);
    let client_addr = if trust_proxy {
        req.connection_info()
            .realip_remote_addr()
            .map(|a| a.to_string())
    } else {
        req.peer_addr().map(|a| a.ip().to_string())
    }
    .unwrap_or_else(|| "unknown".into());
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    req.extensions_mut().insert(RequestMeta {
        request_id: request_id.clone(),
        client_addr,
    });
    let method = req.method().clone();
    let path = req.path().to_string();
    let mut res = next.call(req).await?;
    res.headers_mut().insert(
        header::HeaderName::from_static("x-request-id"),
        header::HeaderValue::from_str(&request_id)
            .unwrap_or(header::HeaderValue::from_static("invalid")),
    );
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %path,
        status = res.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(res)
}

fn is_api(req: &ServiceRequest) -> bool {
    req.path().starts_with("/api/")
}

fn refuse(req: ServiceRequest, err: AppError) -> ServiceResponse<BoxBody> {
    let resp = if is_api(&req) {
        actix_web::ResponseError::error_response(&ApiError(err))
    } else {
        actix_web::ResponseError::error_response(&PageError(err))
    };
    req.into_response(resp)
}

fn unsafe_method(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The CSRF token a request presents: the `X-CSRF-Token` header, the
/// `csrf_token` field of a urlencoded form (the body is read and put back), or the
/// `csrf_token` query parameter of a multipart upload.
async fn presented_csrf(req: &mut ServiceRequest) -> Option<String> {
    if let Some(h) = req.headers().get("x-csrf-token") {
        return h.to_str().ok().map(str::to_string);
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    // File uploads (multipart) carry the token in the form's action URL: the
    // body may be large and is streamed to the handler unread.
    if content_type.starts_with("multipart/form-data") {
        return serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "csrf_token")
            .map(|(_, v)| v);
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return None;
    }
    let body = req.extract::<web::Bytes>().await.ok()?;
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .ok()
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(k, _)| k == "csrf_token")
                .map(|(_, v)| v)
        });
    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    req.set_payload(Payload::from(payload));
    token
}

/// Loads the staff session from its cookie (expiring it when timed out, audited),
/// then refuses state-changing requests without the right CSRF token.
pub async fn session_and_csrf(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    let meta = req
        .extensions()
        .get::<RequestMeta>()
        .cloned()
        .unwrap_or(RequestMeta {
            request_id: String::new(),
            client_addr: "unknown".into(),
        });
    let token = req
        .cookie(state.session_cookie_name())
        .map(|c| c.value().to_string());
    let mut expired = false;
    if let Some(token) = token {
        let st = state.clone();
        let meta2 = meta.clone();
        let looked = state
            .db(move |conn| -> Result<Lookup, AppError> {
                let ctx = st.ctx(&meta2, Actor::anonymous());
                let found = session::lookup(conn, &token, ctx.now, st.limits())?;
                match &found {
                    Lookup::Expired {
                        id_hash,
                        user_id,
                        reason,
                    } => session::expire(conn, &ctx, id_hash, user_id, reason)?,
                    Lookup::Valid {
                        session,
                        touch: true,
                    } => session::touch(conn, &session.id_hash, ctx.now)?,
                    _ => {}
                }
                Ok(found)
            })
            .await;
        match looked {
            Ok(Lookup::Valid { session, .. }) => {
                req.extensions_mut().insert(*session);
            }
            Ok(Lookup::Expired { .. }) => expired = true,
            Ok(Lookup::Unknown) => {}
            Err(e) => return Ok(refuse(req, e)),
        }
    }

    if unsafe_method(req.method()) {
        let session_csrf = req
            .extensions()
            .get::<session::LoadedSession>()
            .map(|s| s.csrf_token.clone());
        let verdict = match session_csrf {
            Some(expected) => match presented_csrf(&mut req).await {
                Some(got) if crate::auth::secrets_equal(&got, &expected) => Ok(()),
                Some(_) => Err("CSRF token does not match the session"),
                None => Err("CSRF token missing"),
            },
            None if expired => {
                return Ok(refuse(
                    req,
                    AppError::Unauthorized(
                        "セッションの有効期限が切れました。再度サインインしてください (session expired)"
                            .into(),
                    ),
                ))
            }
            // Without a session an API call carries no ambient authority; the
            // handler demands credentials where needed.
            None if is_api(&req) => Ok(()),
            None => {
                let cookie = req
                    .cookie(state.csrf_cookie_name())
                    .map(|c| c.value().to_string());
                match (cookie, presented_csrf(&mut req).await) {
                    (Some(c), Some(got)) if !c.is_empty() && crate::auth::secrets_equal(&c, &got) => Ok(()),
                    _ => Err("CSRF token missing or does not match (enable cookies and reload the page)"),
                }
            }
        };
        if let Err(reason) = verdict {
            let actor = req
                .extensions()
                .get::<session::LoadedSession>()
                .map(crate::web::extract::actor_of)
                .unwrap_or_else(Actor::anonymous);
            let pharmacy = actor.memberships.first().map(|m| m.pharmacy_id.clone());
            let path = req.path().to_string();
            let st = state.clone();
            let meta2 = meta.clone();
            let audited = state
                .db(move |conn| {
                    let ctx = st.ctx(&meta2, actor);
                    crate::audit::record_alone(
                        conn,
                        &ctx,
                        crate::audit::Event::denied(pharmacy.as_deref(), "security.csrf_rejected")
                            .detail(format!("{reason}; path={path}")),
                    )
                })
                .await;
            if let Err(e) = audited {
                return Ok(refuse(req, e));
            }
            return Ok(refuse(
                req,
                AppError::Forbidden(format!("リクエストを受け付けられません ({reason})")),
            ));
        }
    }
    next.call(req).await
}

/// Headers every response carries. HSTS only when this server terminates TLS.
pub fn security_headers(hsts: bool) -> actix_web::middleware::DefaultHeaders {
    let mut h = actix_web::middleware::DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::CACHE_CONTROL, "no-store"));
    if hsts {
        h = h.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ));
    }
    h
}

/// Answer for unknown routes: JSON under `/api/`, a page elsewhere.
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    let err = AppError::NotFound("ページが見つかりません (not found)".into());
    if req.path().starts_with("/api/") {
        actix_web::ResponseError::error_response(&ApiError(err))
    } else {
        actix_web::ResponseError::error_response(&PageError(err))
    }
}
