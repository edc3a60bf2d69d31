//! Shared state of the running service and the bridge from async handlers to
//! blocking database work.

use std::sync::Arc;

use actix_web::web;
use chrono::Duration;

use crate::auth::hashing::Hasher;
use crate::auth::login::LoginPolicy;
use crate::auth::session::Limits;
use crate::clock::SharedClock;
use crate::config::Validated;
use crate::context::{Actor, Ctx};
use crate::db::{DbConnection, Pool};
use crate::error::AppError;
use crate::jobs::worker::Worker;
use crate::notices::handler::SendNotice;
use crate::notices::mailer::{Mailer, MailerError};
use crate::notices::OutboxConfig;

/// Everything request handlers share.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub settings: Arc<Validated>,
    pub clock: SharedClock,
    pub hasher: Hasher,
    /// Set only by `pharmacy demo`: shows a DEMO banner and lets demo accounts skip
    /// second-factor enrolment.
    pub demo_mode: bool,
    /// Notices outbox settings.
    pub outbox: OutboxConfig,
}

/// Per-request data set by the outermost middleware.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_addr: String,
}

impl AppState {
    /// Builds the state.
    pub fn new(pool: Pool, settings: Validated, clock: SharedClock, demo_mode: bool) -> AppState {
        let hasher = Hasher::new(
            settings.raw.security.pbkdf2_iterations,
            settings.raw.security.max_concurrent_hashes,
        );
        let domain = settings
            .raw
            .mail
            .from
            .parse::<lettre::message::Mailbox>()
            .map(|m| m.email.domain().to_string())
            .unwrap_or_else(|_| "localhost".into());
        let public_url = settings.public_url();
        let outbox = OutboxConfig {
            public_url,
            dead_after: Duration::hours(settings.raw.jobs.dead_after_hours),
            domain,
        };
        AppState {
            pool,
            settings: Arc::new(settings),
            clock,
            hasher,
            demo_mode,
            outbox,
        }
    }

    /// A job worker with every handler (notices, e-prescription results, ...), on
    /// this state's pool and clock.
    pub fn worker(&self) -> Result<Worker, MailerError> {
        let mailer = Mailer::from_settings(&self.settings.raw.mail)?;
        let mut handlers: Vec<Arc<dyn crate::jobs::worker::Handler>> =
            vec![Arc::new(SendNotice { mailer })];
        if let Some(gateway) = self.gateway() {
            handlers.push(Arc::new(crate::guidance::qualification::FetchEligibility {
                gateway: gateway.clone(),
            }));
            handlers.push(Arc::new(crate::eps::results::RegisterResult { gateway }));
        }
        Ok(Worker::new(
            self.pool.clone(),
            self.clock.clone(),
            self.settings.raw.jobs.clone(),
            handlers,
        ))
    }

    /// The national-services terminal client, when `[eps]` is configured and its
    /// folders can be created (otherwise intake answers "not configured").
    pub fn gateway(&self) -> Option<crate::eps::gateway::Gateway> {
        let config = self.settings.raw.eps.gateway()?;
        match crate::eps::gateway::Gateway::new(config) {
            Ok(g) => Some(g),
            Err(e) => {
                tracing::error!(error = %e, "cannot use the [eps] terminal folders");
                None
            }
        }
    }

    /// What dispensing needs from configuration.
    pub fn dispense_settings(&self) -> crate::prescriptions::DispenseSettings {
        crate::prescriptions::DispenseSettings {
            result_dead_after: self.outbox.dead_after,
            originals: self.settings.raw.copies.original_policy(),
        }
    }

    /// The file store for copies and originals.
    pub fn file_store(&self) -> crate::copies::FileStore {
        crate::copies::FileStore::new(&self.settings.raw.copies.files_dir)
    }

    /// Session time limits from configuration.
    pub fn limits(&self) -> Limits {
        Limits {
            idle: Duration::minutes(self.settings.raw.security.session_idle_minutes),
            absolute: Duration::hours(self.settings.raw.security.session_absolute_hours),
        }
    }

    /// Sign-in policy from configuration.
    pub fn login_policy(&self) -> LoginPolicy {
        let s = &self.settings.raw.security;
        LoginPolicy {
            max_failures_per_account: s.max_failed_logins_per_account_per_hour,
            max_failures_per_addr: s.max_failed_logins_per_ip_per_hour,
            limits: self.limits(),
            demo_mode: self.demo_mode,
        }
    }

    /// Name of the session cookie. With `Secure`, the `__Host-` prefix also pins
    /// it to this host and path `/`.
    pub fn session_cookie_name(&self) -> &'static str {
        if self.settings.raw.server.cookie_secure {
            "__Host-pharmacy_session"
        } else {
            "pharmacy_session"
        }
    }

    /// Name of the pre-sign-in CSRF cookie (double submit on the sign-in form).
    pub fn csrf_cookie_name(&self) -> &'static str {
        if self.settings.raw.server.cookie_secure {
            "__Host-pharmacy_csrf"
        } else {
            "pharmacy_csrf"
        }
    }

    /// A context for `actor` in this request.
    pub fn ctx(&self, meta: &RequestMeta, actor: Actor) -> Ctx {
        Ctx {
            actor,
            client_addr: meta.client_addr.clone(),
            request_id: Some(meta.request_id.clone()),
            now: self.clock.now(),
        }
    }

    /// Runs blocking database work on the blocking pool with a pooled connection.
    pub async fn db<T, E, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<AppError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || -> Result<T, AppError> {
            let mut conn = pool.get()?;
            f(&mut conn).map_err(Into::into)
        })
        .await
        .map_err(AppError::internal)?
    }
}
