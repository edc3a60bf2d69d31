//! Storage: one diesel code path over SQLite (the embedded default) and PostgreSQL
//! (chains, several app instances), through a `MultiConnection` enum and an r2d2 pool.
//! Everything that differs between the two backends lives in [`backend`].

pub mod backend;
pub mod schema;

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

pub use backend::{run_migrations, write_transaction, Backend};

/// A connection to either backend. Code takes `&mut DbConnection` and stays backend-neutral.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL
    Postgres(diesel::PgConnection),
    /// SQLite (bundled)
    Sqlite(diesel::SqliteConnection),
}

/// The connection pool shared by the web workers and background jobs.
pub type Pool = diesel::r2d2::Pool<backend::BackendManager>;
/// A connection checked out of the pool.
pub type PooledConn = diesel::r2d2::PooledConnection<backend::BackendManager>;

/// Where the data lives, decided by the URL scheme alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH` or a plain path.
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`.
    Postgres(String),
}

/// Why a database URL was not accepted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("empty database URL")]
    Empty,
    #[error("unknown database URL scheme `{0}` (use sqlite:// or a file path, or postgres://)")]
    UnknownScheme(String),
    #[error("the SQLite URL has no file path")]
    NoPath,
}

impl DatabaseUrl {
    /// Parses a configured URL. An unknown scheme is an error, never a silently created file.
    pub fn parse(url: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        match url.split_once("://") {
            Some(("postgres" | "postgresql", _)) => Ok(DatabaseUrl::Postgres(url.to_string())),
            Some(("sqlite", path)) => {
                if path.is_empty() {
                    Err(DatabaseUrlError::NoPath)
                } else {
                    Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
                }
            }
            Some((scheme, _)) => Err(DatabaseUrlError::UnknownScheme(scheme.to_string())),
            None => {
                // A "scheme:" without slashes (e.g. "mysql:host") is not a path either.
                if let Some((scheme, _)) = url.split_once(':') {
                    if !scheme.is_empty()
                        && scheme.len() > 1
                        && scheme
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '+')
                    {
                        return Err(DatabaseUrlError::UnknownScheme(scheme.to_string()));
                    }
                }
                Ok(DatabaseUrl::Sqlite(PathBuf::from(url)))
            }
        }
    }

    /// The backend this URL selects.
    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Failure to open the database.
#[derive(Debug, Error)]
pub enum DbSetupError {
    #[error("cannot create the directory for the SQLite file {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("migrations failed: {0}")]
    Migrations(String),
}

/// Pool options.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connect_timeout: Duration,
    pub sqlite_busy_timeout_ms: u32,
}

/// Opens a pool for `url`. For SQLite the parent directory is created; every pooled
/// connection is set up by [`backend::ConnectionSetup`].
pub fn connect(url: &DatabaseUrl, options: &PoolOptions) -> Result<Pool, DbSetupError> {
    let manager_url = match url {
        DatabaseUrl::Sqlite(path) => {
            if let Some(parent) = path.parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|source| DbSetupError::Directory {
                        path: path.display().to_string(),
                        source,
                    })?;
                }
            }
            path.display().to_string()
        }
        DatabaseUrl::Postgres(u) => u.clone(),
    };
    let manager = backend::BackendManager::new(url.backend(), manager_url);
    let pool = diesel::r2d2::Pool::builder()
        .max_size(options.max_size)
        // No idle minimum: r2d2 would open connections on a background thread, and
        // a short-lived command exiting meanwhile crashes inside libpq.
        .min_idle(Some(0))
        .connection_timeout(options.connect_timeout)
        .connection_customizer(Box::new(backend::ConnectionSetup {
            sqlite_busy_timeout_ms: options.sqlite_busy_timeout_ms,
        }))
        .build(manager)?;
    Ok(pool)
}

/// Which backend a live connection talks to.
pub fn backend_of(conn: &DbConnection) -> Backend {
    match conn {
        DbConnection::Postgres(_) => Backend::Postgres,
        DbConnection::Sqlite(_) => Backend::Sqlite,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_scheme_selects_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://var/x.db").unwrap(),
            DatabaseUrl::Sqlite("var/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("var/x.db").unwrap(),
            DatabaseUrl::Sqlite("var/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("/abs/x.db").unwrap(),
            DatabaseUrl::Sqlite("/abs/x.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
    }

    #[test]
    fn unknown_schemes_are_refused() {
        assert_eq!(
            DatabaseUrl::parse("mysql://h/db"),
            Err(DatabaseUrlError::UnknownScheme("mysql".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("mysql:h"),
            Err(DatabaseUrlError::UnknownScheme("mysql".into()))
        );
        assert_eq!(DatabaseUrl::parse(""), Err(DatabaseUrlError::Empty));
        assert_eq!(
            DatabaseUrl::parse("sqlite://"),
            Err(DatabaseUrlError::NoPath)
        );
    }
}
