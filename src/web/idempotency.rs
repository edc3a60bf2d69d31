//! `Idempotency-Key` on API POSTs: a client that retries a request with the same
//! key and body gets the first answer again instead of a second effect; the same
//! key with a different body is refused (409), as is a retry while the first
//! request still runs. Keys belong to the signed-in user.

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use diesel::prelude::*;

use super::state::AppState;
use crate::auth::session::LoadedSession;
use crate::db::backend::is_unique_violation;
use crate::db::schema::idempotency_keys as ik;
use crate::error::{ApiError, AppError};

enum Found {
    New,
    Replay(u16, Option<String>, Vec<u8>),
    InProgress,
    Mismatch,
}

fn refuse(req: ServiceRequest, e: AppError) -> ServiceResponse<BoxBody> {
    req.into_response(actix_web::ResponseError::error_response(&ApiError(e)))
}

/// The middleware (API POSTs with an `Idempotency-Key` header only).
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string());
    let (Some(key), true) = (
        key,
        req.method() == Method::POST && req.path().starts_with("/api/"),
    ) else {
        return next.call(req).await;
    };
    if key.is_empty() || key.len() > 200 {
        return Ok(refuse(
            req,
            AppError::BadRequest("Idempotency-Key must be 1-200 characters".into()),
        ));
    }
    let (Some(state), Some(user)) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.extensions()
            .get::<LoadedSession>()
            .map(|s| s.user_id.clone()),
    ) else {
        return next.call(req).await;
    };
    let body = req.extract::<web::Bytes>().await?;
    let hash = hex::encode(
        ring::digest::digest(
            &ring::digest::SHA256,
            [req.path().as_bytes(), b"\n", &body].concat().as_slice(),
        )
        .as_ref(),
    );
    let (_, mut pl) = actix_http::h1::Payload::create(true);
    pl.unread_data(body);
    req.set_payload(Payload::from(pl));

    let now = state.clock.now().naive_utc();
    let (u, k, h) = (user.clone(), key.clone(), hash.clone());
    let found = state
        .db(move |conn| -> Result<Found, AppError> {
            let inserted = conn.transaction(|c| {
                diesel::insert_into(ik::table)
                    .values((
                        ik::user_id.eq(&u),
                        ik::idem_key.eq(&k),
                        ik::request_hash.eq(&h),
                        ik::created_at.eq(now),
                    ))
                    .execute(c)
            });
            match inserted {
                Ok(_) => Ok(Found::New),
                Err(e) if is_unique_violation(&e) => {
                    let (rh, status, ct, body): (
                        String,
                        Option<i32>,
                        Option<String>,
                        Option<Vec<u8>>,
                    ) = ik::table
                        .find((&u, &k))
                        .select((
                            ik::request_hash,
                            ik::status_code,
                            ik::content_type,
                            ik::response_body,
                        ))
                        .first(conn)?;
                    Ok(if rh != h {
                        Found::Mismatch
                    } else {
                        match status {
                            Some(s) => Found::Replay(s as u16, ct, body.unwrap_or_default()),
                            None => Found::InProgress,
                        }
                    })
                }
                Err(e) => Err(e.into()),
            }
        })
        .await;
    match found {
        Err(e) => Ok(refuse(req, e)),
        Ok(Found::Mismatch) => Ok(refuse(
            req,
            AppError::Conflict("この Idempotency-Key は別の内容のリクエストに使われています (key reused with a different body)".into()),
        )),
        Ok(Found::InProgress) => Ok(refuse(
            req,
            AppError::Conflict("同じ Idempotency-Key のリクエストを処理中です (the first request with this key is still running)".into()),
        )),
        Ok(Found::Replay(status, ct, body)) => {
            let mut resp = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
            if let Some(ct) = ct {
                resp.insert_header((header::CONTENT_TYPE, ct));
            }
            resp.insert_header(("Idempotency-Replayed", "true"));
            Ok(req.into_response(resp.body(body)))
        }
        Ok(Found::New) => {
            let res = next.call(req).await?;
            let status = res.status();
            let ct = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let (http_req, http_res) = res.into_parts();
            let (head, body) = http_res.into_parts();
            let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
            let store = status.as_u16() < 500;
            let (u, k, b) = (user, key, bytes.to_vec());
            let _ = state
                .db(move |conn| -> Result<(), AppError> {
                    if store {
                        diesel::update(ik::table.find((&u, &k)))
                            .set((ik::status_code.eq(Some(status.as_u16() as i32)), ik::content_type.eq(ct), ik::response_body.eq(Some(b))))
                            .execute(conn)?;
                    } else {
                        // A server error is not an answer worth replaying: allow a retry.
                        diesel::delete(ik::table.find((&u, &k))).execute(conn)?;
                    }
                    Ok(())
                })
                .await;
            let res = head.set_body(bytes).map_into_boxed_body();
            Ok(ServiceResponse::new(http_req, res))
        }
    }
}
