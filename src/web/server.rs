//! Builds the actix-web application and runs the HTTP(S) server.

use std::io::BufReader;
use std::net::TcpListener;

use actix_web::{web, App, HttpServer};

use super::middleware;
use super::state::AppState;
use crate::error::{ApiError, AppError};

/// Maps body/path/query extraction failures to clear 400/413/415/422 answers.
fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError as J;
            let e = match &err {
                J::OverflowKnownLength { .. } | J::Overflow { .. } => AppError::PayloadTooLarge(
                    "リクエストが大きすぎます (request body too large)".into(),
                ),
                J::ContentType => AppError::UnsupportedMediaType(
                    "Content-Type: application/json が必要です (expected application/json)".into(),
                ),
                J::Deserialize(de) if de.is_data() => {
                    let mut f = crate::domain::fields::FieldErrors::new();
                    f.add("body", de.to_string());
                    AppError::Validation(f)
                }
                J::Deserialize(de) => AppError::BadRequest(format!("malformed JSON: {de}")),
                other => AppError::BadRequest(format!("unreadable body: {other}")),
            };
            ApiError(e).into()
        })
}

fn form_config(limit: usize) -> web::FormConfig {
    web::FormConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            use actix_web::error::UrlencodedError as U;
            let e = match &err {
                U::Overflow { .. } => AppError::PayloadTooLarge("request body too large".into()),
                U::ContentType => AppError::UnsupportedMediaType("expected a form".into()),
                other => AppError::BadRequest(format!("malformed form: {other}")),
            };
            crate::error::PageError(e).into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, req| {
        let e = AppError::BadRequest(format!("malformed query string: {err}"));
        if req.path().starts_with("/api/") {
            ApiError(e).into()
        } else {
            crate::error::PageError(e).into()
        }
    })
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, req| {
        let e = AppError::NotFound(format!("not found: {err}"));
        if req.path().starts_with("/api/") {
            ApiError(e).into()
        } else {
            crate::error::PageError(e).into()
        }
    })
}

/// Registers everything on an `App` (shared by the server and the tests).
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        let limit = state.settings.raw.server.max_body_bytes;
        cfg.app_data(web::Data::new(state))
            .app_data(json_config(limit))
            .app_data(form_config(limit))
            .app_data(web::PayloadConfig::default().limit(limit))
            .app_data(query_config())
            .app_data(path_config());
        crate::routes::configure(cfg);
    }
}

fn load_tls(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> std::io::Result<rustls::ServerConfig> {
    let certs = rustls_pemfile::certs(&mut BufReader::new(std::fs::File::open(cert)?))
        .collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(std::fs::File::open(key)?))?
        .ok_or_else(|| std::io::Error::other("no private key found in server.tls.key_file"))?;
    rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    .map_err(std::io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(std::io::Error::other)
}

/// Builds the server on `listener` (not yet running).
pub fn build(
    state: AppState,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let tls = state.settings.tls.clone();
    let hsts = tls.is_some();
    let server = HttpServer::new(move || {
        App::new()
            .configure(configure(state.clone()))
            .wrap(actix_web::middleware::from_fn(
                super::idempotency::idempotency,
            ))
            .wrap(actix_web::middleware::from_fn(middleware::session_and_csrf))
            .wrap(middleware::security_headers(hsts))
            .wrap(actix_web::middleware::from_fn(middleware::request_meta))
    })
    .workers(workers);
    Ok(match tls {
        Some((cert, key)) => server
            .listen_rustls_0_23(listener, load_tls(&cert, &key)?)?
            .run(),
        None => server.listen(listener)?.run(),
    })
}

/// Runs the server on `listener` until it is stopped (Ctrl-C or SIGTERM).
pub async fn run(state: AppState, listener: TcpListener) -> std::io::Result<()> {
    let workers = match state.settings.raw.server.workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    build(state, listener, workers)?.await
}
