//! The one place where SQLite and PostgreSQL differ: how a connection is opened and
//! set up, how a write transaction starts, and which migration tree applies.

use diesel::connection::SimpleConnection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{CustomizeConnection, ManageConnection, R2D2Connection};
use diesel::result::{ConnectionError, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConnection;

/// SQLite migrations, embedded in the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// PostgreSQL migrations, embedded in the binary; same names as the SQLite tree.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The two supported database engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// Opens connections of exactly the configured backend. (diesel's generic manager
/// would try PostgreSQL first and fall back to SQLite, which could create a stray
/// file when the PostgreSQL server is down.)
#[derive(Debug)]
pub struct BackendManager {
    backend: Backend,
    url: String,
}

impl BackendManager {
    /// A manager for `url` on `backend`.
    pub fn new(backend: Backend, url: String) -> Self {
        BackendManager { backend, url }
    }
}

impl ManageConnection for BackendManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        let conn = match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url).map(DbConnection::Postgres),
            Backend::Sqlite => SqliteConnection::establish(&self.url).map(DbConnection::Sqlite),
        };
        conn.map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// Per-connection settings applied when the pool opens a connection.
#[derive(Debug)]
pub struct ConnectionSetup {
    pub sqlite_busy_timeout_ms: u32,
}

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        let sql = match conn {
            // WAL lets readers proceed during a write; synchronous=FULL makes an
            // acknowledged commit survive power loss; foreign keys are off by default.
            DbConnection::Sqlite(_) => format!(
                "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                self.sqlite_busy_timeout_ms
            ),
            DbConnection::Postgres(_) => "SET TIME ZONE 'UTC';".to_string(),
        };
        conn.batch_execute(&sql)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Applies pending migrations of the connection's backend; returns their names.
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, String> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
    }
    .map_err(|e| e.to_string())?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Runs `f` in a transaction meant to write. On SQLite it starts with `BEGIN
/// IMMEDIATE`, taking the write lock up front so two writers never deadlock on a
/// lock upgrade (which `busy_timeout` cannot resolve); on PostgreSQL it is a normal
/// transaction and row locks do the rest.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    let DbConnection::Sqlite(inner) = conn else {
        return conn.transaction(f);
    };
    let depth = AnsiTransactionManager::transaction_manager_status_mut(inner)
        .transaction_depth()
        .map_err(E::from)?;
    if depth.is_some() {
        // Already inside a transaction (which holds the write lock or will take
        // it): a nested call becomes a savepoint.
        return conn.transaction(f);
    }
    AnsiTransactionManager::begin_transaction_sql(&mut *inner, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    let DbConnection::Sqlite(inner) = conn else {
        unreachable!("the connection variant cannot change inside a transaction")
    };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(&mut *inner)?;
            Ok(value)
        }
        Err(e) => {
            AnsiTransactionManager::rollback_transaction(&mut *inner)?;
            Err(e)
        }
    }
}

/// True when the error is a unique-constraint violation (both backends).
pub fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Maps a connection failure to a message without credentials.
pub fn describe_connection_error(e: &ConnectionError) -> String {
    match e {
        ConnectionError::BadConnection(m) => m.lines().next().unwrap_or("").to_string(),
        other => other.to_string(),
    }
}

#[derive(diesel::QueryableByName)]
struct JobKey {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pharmacy_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// Keys of jobs due at `now`, oldest first. On PostgreSQL the rows are locked
/// with `FOR UPDATE SKIP LOCKED`, so concurrent workers on several app instances
/// take disjoint sets; SQLite's write transaction admits one claimer at a time.
pub fn due_job_keys(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    limit: i64,
) -> diesel::QueryResult<Vec<(String, String)>> {
    use diesel::sql_types::{BigInt, Timestamp};
    use diesel::RunQueryDsl;
    const DUE: &str = "(status = 'pending' AND run_at <= $1) \
                       OR (status = 'running' AND lease_until < $1)";
    let rows: Vec<JobKey> = match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(format!(
            "SELECT pharmacy_id, id FROM jobs WHERE {DUE} \
             ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED"
        ))
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(format!(
            "SELECT pharmacy_id, id FROM jobs WHERE {} ORDER BY run_at LIMIT ?2",
            DUE.replace("$1", "?1")
        ))
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(lite)?,
    };
    Ok(rows.into_iter().map(|k| (k.pharmacy_id, k.id)).collect())
}
