//! Configuration: embedded defaults (`config/default.toml`), an optional file, then
//! environment variables `PHARMACY__SECTION__KEY`. Everything is validated once at
//! start; an invalid value stops the program with a message naming its key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::db::DatabaseUrl;

/// The defaults compiled into the binary, so `pharmacy serve` works without files.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Lowest PBKDF2 iteration count accepted from configuration (OWASP 2023).
pub const MIN_PBKDF2_ITERATIONS: u32 = 600_000;

/// A configuration problem, always naming the offending key.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

/// All settings of one running service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub display: DisplaySettings,
    pub security: SecuritySettings,
    pub mail: MailSettings,
    pub jobs: JobSettings,
    pub checks: CheckSettings,
    pub eps: EpsSettings,
    pub copies: CopySettings,
    pub guidance: GuidanceSettings,
    pub delivery: DeliverySettings,
    pub log: LogSettings,
}

/// `[eps]`: the OQS terminal's file-drop folders for the national e-prescription
/// service. Empty `request_dir` turns e-prescription intake off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpsSettings {
    pub request_dir: String,
    pub response_dir: String,
    pub quarantine_dir: String,
    pub timeout_secs: u64,
    pub poll_interval_ms: u64,
    pub processing_retry_ms: u64,
    pub max_processing: u32,
    pub stale_file_minutes: u64,
}

/// `[copies]`: prescription copies by fax / e-mail and their originals.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopySettings {
    pub files_dir: String,
    pub max_message_bytes: usize,
    pub max_attachment_bytes: usize,
    pub max_attachments: usize,
    pub keep_oversized_up_to_bytes: usize,
    pub original_due_days: i64,
    pub original_escalate_days: i64,
    pub original_request_repeat_days: i64,
}

impl CopySettings {
    /// The message size limits.
    pub fn limits(&self) -> crate::domain::mail::MailLimits {
        crate::domain::mail::MailLimits {
            max_message_bytes: self.max_message_bytes,
            max_attachment_bytes: self.max_attachment_bytes,
            max_attachments: self.max_attachments,
        }
    }

    /// When originals are due.
    pub fn original_policy(&self) -> crate::domain::originals::OriginalPolicy {
        crate::domain::originals::OriginalPolicy {
            due_days: self.original_due_days,
            escalate_days: self.original_escalate_days,
            repeat_days: self.original_request_repeat_days,
        }
    }
}

/// `[guidance]`: online guidance reminders.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuidanceSettings {
    pub reminder_week_before: bool,
    pub reminder_day_before: bool,
    pub reminder_minutes_before: i64,
}

impl GuidanceSettings {
    /// The reminder policy.
    pub fn reminders(&self) -> crate::domain::guidance::reminders::ReminderPolicy {
        crate::domain::guidance::reminders::ReminderPolicy {
            week_before: self.reminder_week_before,
            day_before: self.reminder_day_before,
            minutes_before: self.reminder_minutes_before.clamp(0, 24 * 60),
        }
    }
}

/// `[delivery]`: home delivery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// Hours after a controlled or refrigerated delivery is handed over without
    /// the patient confirming receipt before a follow-up task is made.
    pub followup_hours: i64,
}

impl DeliverySettings {
    /// The follow-up delay (at least an hour, at most two weeks).
    pub fn followup_after(&self) -> chrono::Duration {
        chrono::Duration::hours(self.followup_hours.clamp(1, 24 * 14))
    }
}

/// `[checks]`: when past medication counts as current.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    pub grace_days: i64,
    pub as_needed_window_days: i64,
    pub external_window_days: i64,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: String,
    pub public_url: String,
    pub cookie_secure: bool,
    pub trust_proxy_headers: bool,
    pub max_body_bytes: usize,
    pub workers: usize,
    pub tls: TlsSettings,
}

/// `[server.tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub cert_file: String,
    pub key_file: String,
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u32,
}

/// `[display]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplaySettings {
    pub time_zone: String,
}

/// `[security]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub pbkdf2_iterations: u32,
    pub max_concurrent_hashes: usize,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub max_failed_logins_per_account_per_hour: i64,
    pub max_failed_logins_per_ip_per_hour: i64,
    pub totp_issuer: String,
}

/// `[mail]` (used by the notices outbox).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: String,
    pub from: String,
    pub file_dir: String,
    pub smtp: SmtpSettings,
}

/// `[mail.smtp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: String,
    pub username: String,
    pub password: String,
    pub timeout_secs: u64,
}

/// `[jobs]`: the durable job worker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    pub enabled: bool,
    pub poll_interval_ms: u64,
    pub lease_secs: i64,
    pub batch_size: i64,
    pub retry_initial_secs: i64,
    pub retry_max_secs: i64,
    pub dead_after_hours: i64,
}

impl EpsSettings {
    /// The gateway configuration, when intake is configured.
    pub fn gateway(&self) -> Option<crate::eps::gateway::GatewayConfig> {
        if self.request_dir.trim().is_empty() {
            return None;
        }
        let quarantine = if self.quarantine_dir.trim().is_empty() {
            PathBuf::from(&self.response_dir).join("quarantine")
        } else {
            PathBuf::from(&self.quarantine_dir)
        };
        Some(crate::eps::gateway::GatewayConfig {
            request_dir: PathBuf::from(&self.request_dir),
            response_dir: PathBuf::from(&self.response_dir),
            quarantine_dir: quarantine,
            timeout: std::time::Duration::from_secs(self.timeout_secs.max(1)),
            poll_interval: std::time::Duration::from_millis(self.poll_interval_ms.max(1)),
            processing_retry: std::time::Duration::from_millis(self.processing_retry_ms),
            max_processing: self.max_processing.max(1),
        })
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
    pub format: String,
}

/// Settings after validation, with parsed values the rest of the program relies on.
#[derive(Debug, Clone)]
pub struct Validated {
    pub raw: Settings,
    pub listen: SocketAddr,
    pub database: DatabaseUrl,
    pub time_zone: chrono_tz::Tz,
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl Settings {
    /// Loads defaults, then `file` (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Settings::load`] with an explicit environment (tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(path) = file {
            if !path.exists() {
                return Err(invalid(
                    "--config",
                    format!("file {} does not exist", path.display()),
                ));
            }
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let env_map: std::collections::HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("PHARMACY__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("PHARMACY")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env_map)),
        );
        Ok(builder.build()?.try_deserialize()?)
    }

    /// Checks every value and parses those the program needs in typed form.
    pub fn validate(self) -> Result<Validated, ConfigError> {
        let listen: SocketAddr = self.server.listen.parse().map_err(|_| {
            invalid(
                "server.listen",
                format!(
                    "`{}` is not an address like 127.0.0.1:8080",
                    self.server.listen
                ),
            )
        })?;
        let database = DatabaseUrl::parse(&self.database.url)
            .map_err(|e| invalid("database.url", e.to_string()))?;
        if self.database.pool_size == 0 {
            return Err(invalid("database.pool_size", "must be at least 1"));
        }
        let time_zone: chrono_tz::Tz = self.display.time_zone.parse().map_err(|_| {
            invalid(
                "display.time_zone",
                format!("unknown time zone `{}`", self.display.time_zone),
            )
        })?;
        if self.security.pbkdf2_iterations < MIN_PBKDF2_ITERATIONS {
            return Err(invalid(
                "security.pbkdf2_iterations",
                format!("must be at least {MIN_PBKDF2_ITERATIONS}"),
            ));
        }
        if self.security.session_idle_minutes <= 0 || self.security.session_idle_minutes > 15 {
            return Err(invalid(
                "security.session_idle_minutes",
                "must be between 1 and 15",
            ));
        }
        if self.security.session_absolute_hours <= 0 || self.security.session_absolute_hours > 12 {
            return Err(invalid(
                "security.session_absolute_hours",
                "must be between 1 and 12",
            ));
        }
        if !(1..=100).contains(&self.security.max_failed_logins_per_account_per_hour) {
            return Err(invalid(
                "security.max_failed_logins_per_account_per_hour",
                "must be between 1 and 100",
            ));
        }
        if self.security.max_failed_logins_per_ip_per_hour < 1 {
            return Err(invalid(
                "security.max_failed_logins_per_ip_per_hour",
                "must be at least 1",
            ));
        }
        let tls = match (
            self.server.tls.cert_file.is_empty(),
            self.server.tls.key_file.is_empty(),
        ) {
            (true, true) => None,
            (false, false) => Some((
                PathBuf::from(&self.server.tls.cert_file),
                PathBuf::from(&self.server.tls.key_file),
            )),
            (true, false) => {
                return Err(invalid(
                    "server.tls.cert_file",
                    "key_file is set but cert_file is empty",
                ))
            }
            (false, true) => {
                return Err(invalid(
                    "server.tls.key_file",
                    "cert_file is set but key_file is empty",
                ))
            }
        };
        if !self.server.cookie_secure && (tls.is_some() || !listen.ip().is_loopback()) {
            return Err(invalid(
                "server.cookie_secure",
                "may be false only for plain-HTTP on a loopback address",
            ));
        }
        if !matches!(self.mail.transport.as_str(), "file" | "smtp") {
            return Err(invalid(
                "mail.transport",
                format!("`{}` is not one of file, smtp", self.mail.transport),
            ));
        }
        if !matches!(
            self.mail.smtp.security.as_str(),
            "starttls" | "tls" | "none"
        ) {
            return Err(invalid(
                "mail.smtp.security",
                format!(
                    "`{}` is not one of starttls, tls, none",
                    self.mail.smtp.security
                ),
            ));
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "mail.from",
                format!(
                    "`{}` is not a mailbox like Name <addr@example.jp>",
                    self.mail.from
                ),
            ));
        }
        if self.jobs.lease_secs <= self.mail.smtp.timeout_secs as i64 {
            return Err(invalid(
                "jobs.lease_secs",
                "must be longer than mail.smtp.timeout_secs (a send must end before its lease)",
            ));
        }
        if self.jobs.retry_initial_secs < 1
            || self.jobs.retry_max_secs < self.jobs.retry_initial_secs
        {
            return Err(invalid(
                "jobs.retry_max_secs",
                "retry_initial_secs must be at least 1 and retry_max_secs at least retry_initial_secs",
            ));
        }
        if self.jobs.dead_after_hours < 1 || self.jobs.batch_size < 1 {
            return Err(invalid(
                "jobs.dead_after_hours",
                "dead_after_hours and batch_size must be at least 1",
            ));
        }
        let c = &self.checks;
        if !(0..=90).contains(&c.grace_days)
            || !(1..=365).contains(&c.as_needed_window_days)
            || !(1..=365).contains(&c.external_window_days)
        {
            return Err(invalid(
                "checks.grace_days",
                "grace_days 0-90, as_needed_window_days and external_window_days 1-365",
            ));
        }
        if !self.eps.request_dir.trim().is_empty() && self.eps.response_dir.trim().is_empty() {
            return Err(invalid(
                "eps.response_dir",
                "must be set when eps.request_dir is set",
            ));
        }
        if self.copies.files_dir.trim().is_empty() {
            return Err(invalid("copies.files_dir", "must be set"));
        }
        if self.copies.max_attachment_bytes > self.copies.max_message_bytes
            || self.copies.max_message_bytes > self.copies.keep_oversized_up_to_bytes
        {
            return Err(invalid(
                "copies.max_message_bytes",
                "need max_attachment_bytes <= max_message_bytes <= keep_oversized_up_to_bytes",
            ));
        }
        if self.copies.original_due_days < 1
            || self.copies.original_escalate_days <= self.copies.original_due_days
            || self.copies.original_request_repeat_days < 1
        {
            return Err(invalid(
                "copies.original_escalate_days",
                "need 1 <= original_due_days < original_escalate_days and original_request_repeat_days >= 1",
            ));
        }
        if !(1..=600).contains(&self.eps.timeout_secs) {
            return Err(invalid("eps.timeout_secs", "must be 1-600 seconds"));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid(
                "log.format",
                format!("`{}` is not one of text, json", self.log.format),
            ));
        }
        Ok(Validated {
            raw: self,
            listen,
            database,
            time_zone,
            tls,
        })
    }
}

impl Validated {
    /// The currency policy of medication checks.
    pub fn currency_policy(&self) -> crate::domain::checks::CurrencyPolicy {
        crate::domain::checks::CurrencyPolicy {
            grace_days: self.raw.checks.grace_days,
            as_needed_window_days: self.raw.checks.as_needed_window_days,
            external_window_days: self.raw.checks.external_window_days,
        }
    }

    /// The base URL for links shown to people.
    pub fn public_url(&self) -> String {
        if self.raw.server.public_url.is_empty() {
            let scheme = if self.tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{}", self.listen)
        } else {
            self.raw.server.public_url.trim_end_matches('/').to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Validated, ConfigError> {
        Settings::load_with_env(
            None,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )?
        .validate()
    }

    #[test]
    fn defaults_are_valid_and_embedded() {
        let v = load(&[]).unwrap();
        assert_eq!(v.listen.to_string(), "127.0.0.1:8080");
        assert!(matches!(v.database, DatabaseUrl::Sqlite(_)));
        assert_eq!(v.time_zone, chrono_tz::Asia::Tokyo);
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let v = load(&[
            ("PHARMACY__DATABASE__URL", "postgres://localhost/x"),
            ("PHARMACY__SERVER__LISTEN", "127.0.0.1:9999"),
        ])
        .unwrap();
        assert!(matches!(v.database, DatabaseUrl::Postgres(_)));
        assert_eq!(v.listen.port(), 9999);
    }

    #[test]
    fn unknown_scheme_is_an_error_naming_the_key() {
        let err = load(&[("PHARMACY__DATABASE__URL", "mysql://localhost/x")]).unwrap_err();
        assert!(err.to_string().contains("database.url"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = load(&[("PHARMACY__DATABASE__POOL_SIZE", "many")]).unwrap_err();
        assert!(err.to_string().contains("pool_size"), "{err}");
    }

    #[test]
    fn weak_kdf_and_insecure_cookie_on_public_address_are_refused() {
        let err = load(&[("PHARMACY__SECURITY__PBKDF2_ITERATIONS", "1000")]).unwrap_err();
        assert!(err.to_string().contains("security.pbkdf2_iterations"));
        let err = load(&[
            ("PHARMACY__SERVER__COOKIE_SECURE", "false"),
            ("PHARMACY__SERVER__LISTEN", "0.0.0.0:8080"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("server.cookie_secure"));
        assert!(load(&[("PHARMACY__SERVER__COOKIE_SECURE", "false")]).is_ok());
    }

    #[test]
    fn unknown_time_zone_names_the_key() {
        let err = load(&[("PHARMACY__DISPLAY__TIME_ZONE", "Mars/Olympus")]).unwrap_err();
        assert!(err.to_string().contains("display.time_zone"));
    }
}
