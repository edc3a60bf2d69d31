//! The job worker: claims due jobs, runs each with its handler outside any
//! transaction (outbound calls can be slow), then records the outcome in one
//! transaction together with the handler's own bookkeeping and audit rows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use super::{claim, finish, Final, Job};
use crate::clock::SharedClock;
use crate::config::JobSettings;
use crate::context::Ctx;
use crate::db::{write_transaction, DbConnection, Pool};
use crate::domain::retry::{after_failure, AfterFailure, Backoff};

/// What a handler reports for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    /// Done; the detail is recorded (e.g. the server's reply).
    Done(String),
    /// Try again later (connection refused, timeout, 4xx reply, ...).
    Temporary(String),
    /// Stop now (5xx reply, invalid address, ...).
    Permanent(String),
}

/// The code behind one job kind.
pub trait Handler: Send + Sync {
    /// The `jobs.kind` this handler runs.
    fn kind(&self) -> &'static str;

    /// Bookkeeping when a job is claimed (inside the claim transaction).
    fn on_claim(
        &self,
        _conn: &mut DbConnection,
        _job: &Job,
        _now: DateTime<Utc>,
    ) -> diesel::QueryResult<()> {
        Ok(())
    }

    /// Does the outside work. No transaction is open; `conn` may be used to read.
    fn run(&self, conn: &mut DbConnection, job: &Job) -> Attempted;

    /// Mirrors the outcome on the handler's own rows, with audit rows, inside the
    /// transaction that finishes the job. `held` is false when another worker had
    /// taken the job over meanwhile (the attempt may still have had its effect).
    fn on_finish(
        &self,
        conn: &mut DbConnection,
        ctx: &Ctx,
        job: &Job,
        result: &Final,
        held: bool,
    ) -> diesel::QueryResult<()>;
}

/// Runs jobs.
#[derive(Clone)]
pub struct Worker {
    pool: Pool,
    clock: SharedClock,
    settings: JobSettings,
    handlers: Arc<HashMap<&'static str, Arc<dyn Handler>>>,
    /// Identifies this worker's leases.
    pub id: String,
}

/// A worker-level failure (the database), logged and retried at the next poll.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database unavailable: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
}

fn jitter() -> f64 {
    let b = crate::auth::random_bytes::<4>();
    u32::from_le_bytes(b) as f64 / u32::MAX as f64
}

impl Worker {
    /// A worker with the given handlers.
    pub fn new(
        pool: Pool,
        clock: SharedClock,
        settings: JobSettings,
        handlers: Vec<Arc<dyn Handler>>,
    ) -> Worker {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
        Worker {
            pool,
            clock,
            settings,
            handlers: Arc::new(handlers.into_iter().map(|h| (h.kind(), h)).collect()),
            id: format!(
                "{host}-{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            initial: Duration::seconds(self.settings.retry_initial_secs),
            max: Duration::seconds(self.settings.retry_max_secs),
        }
    }

    /// Claims one batch and runs it. Returns how many jobs were run.
    pub fn run_once(&self) -> Result<usize, WorkerError> {
        let mut conn = self.pool.get()?;
        let now = self.clock.now();
        let lease = Duration::seconds(self.settings.lease_secs);
        let handlers = self.handlers.clone();
        let jobs = write_transaction(&mut conn, |c| {
            let jobs = claim(c, &self.id, now, lease, self.settings.batch_size)?;
            for job in &jobs {
                if let Some(h) = handlers.get(job.kind.as_str()) {
                    h.on_claim(c, job, now)?;
                }
            }
            Ok::<_, diesel::result::Error>(jobs)
        })?;
        for job in &jobs {
            self.run_job(&mut conn, job)?;
        }
        Ok(jobs.len())
    }

    fn run_job(&self, conn: &mut DbConnection, job: &Job) -> Result<(), WorkerError> {
        let started = self.clock.now();
        let handler = self.handlers.get(job.kind.as_str()).cloned();
        let attempted = match &handler {
            Some(h) => h.run(conn, job),
            // Fail closed and visibly: a job nobody can run is not silently kept.
            None => Attempted::Permanent(format!("no handler for job kind `{}`", job.kind)),
        };
        let now = self.clock.now();
        let result = match attempted {
            Attempted::Done(detail) => Final::Done { detail },
            Attempted::Temporary(error) => {
                match after_failure(
                    false,
                    job.attempts,
                    now,
                    job.deadline_at.and_utc(),
                    self.backoff(),
                    jitter(),
                ) {
                    AfterFailure::RetryAt(at) => Final::Retry { at, error },
                    AfterFailure::Dead => Final::Dead { error },
                    AfterFailure::Failed => Final::Failed { error },
                }
            }
            Attempted::Permanent(error) => Final::Failed { error },
        };
        match &result {
            Final::Done { .. } => tracing::info!(job = %job.id, kind = %job.kind, "job done"),
            Final::Retry { at, .. } => {
                tracing::warn!(job = %job.id, kind = %job.kind, attempts = job.attempts, retry_at = %at, "job failed temporarily")
            }
            _ => {
                tracing::error!(job = %job.id, kind = %job.kind, status = result.job_status(), "job stopped")
            }
        }
        let ctx = Ctx::system("worker", now);
        write_transaction(conn, |c| {
            let held = finish(c, &self.id, job, started, now, &result)?;
            if let Some(h) = &handler {
                h.on_finish(c, &ctx, job, &result, held)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    }

    /// Runs batches until nothing is due (tests, one-shot commands).
    pub fn run_until_idle(&self) -> Result<usize, WorkerError> {
        let mut total = 0;
        loop {
            let n = self.run_once()?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Runs in a background thread until `stop` is set.
    pub fn spawn(self, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        let poll = StdDuration::from_millis(self.settings.poll_interval_ms.max(10));
        std::thread::Builder::new()
            .name("job-worker".into())
            .spawn(move || {
                tracing::info!(worker = %self.id, "job worker started");
                while !stop.load(Ordering::Relaxed) {
                    match self.run_once() {
                        Ok(0) => std::thread::sleep(poll),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(error = %e, "job worker: database error; retrying");
                            std::thread::sleep(poll);
                        }
                    }
                }
                tracing::info!(worker = %self.id, "job worker stopped");
            })
            .expect("spawn the job worker thread")
    }
}
