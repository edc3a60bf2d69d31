//! Durable jobs: outbound work (e-mail notices now; national-service calls later)
//! written in the same transaction as the business change that causes it, then
//! claimed by workers under a lease, retried with backoff after temporary failures,
//! stopped at once by permanent ones, and declared dead after a deadline. Nothing
//! is dropped: every attempt is recorded and dead or failed jobs stay visible.

pub mod worker;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{job_attempts, jobs};
use crate::db::{backend, DbConnection};

/// A job row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub pharmacy_id: String,
    pub id: String,
    pub kind: String,
    pub subject_id: Option<String>,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub run_at: NaiveDateTime,
    pub deadline_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A job to queue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub pharmacy_id: &'a str,
    pub kind: &'a str,
    pub subject_id: Option<&'a str>,
    pub payload: serde_json::Value,
    pub run_at: DateTime<Utc>,
}

/// Queues a job. Call inside the transaction of the change that causes it, so a
/// rolled-back change never produces outbound work.
pub fn enqueue(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    dead_after: Duration,
    job: NewJob<'_>,
) -> QueryResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(jobs::table)
        .values((
            jobs::pharmacy_id.eq(job.pharmacy_id),
            jobs::id.eq(&id),
            jobs::kind.eq(job.kind),
            jobs::subject_id.eq(job.subject_id),
            jobs::payload.eq(job.payload.to_string()),
            jobs::status.eq("pending"),
            jobs::attempts.eq(0),
            jobs::run_at.eq(job.run_at.naive_utc()),
            jobs::deadline_at.eq((now + dead_after).naive_utc()),
            jobs::created_at.eq(now.naive_utc()),
            jobs::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Claims up to `limit` due jobs for `worker` until `now + lease`. Due: pending
/// with `run_at` reached, or running with an expired lease (its worker died).
/// PostgreSQL skips rows other workers are claiming (`FOR UPDATE SKIP LOCKED`);
/// SQLite has one writer at a time. Call inside a write transaction.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> QueryResult<Vec<Job>> {
    let keys = backend::due_job_keys(conn, now.naive_utc(), limit)?;
    let mut claimed = Vec::with_capacity(keys.len());
    for (pharmacy_id, id) in keys {
        let n = diesel::update(
            jobs::table.find((&pharmacy_id, &id)).filter(
                jobs::status.eq("pending").or(jobs::status
                    .eq("running")
                    .and(jobs::lease_until.lt(now.naive_utc()))),
            ),
        )
        .set((
            jobs::status.eq("running"),
            jobs::lease_owner.eq(worker),
            jobs::lease_until.eq((now + lease).naive_utc()),
            jobs::attempts.eq(jobs::attempts + 1),
            jobs::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
        if n == 1 {
            claimed.push(
                jobs::table
                    .find((&pharmacy_id, &id))
                    .select(Job::as_select())
                    .first(conn)?,
            );
        }
    }
    Ok(claimed)
}

/// How an attempt ended, as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    Done { detail: String },
    Retry { at: DateTime<Utc>, error: String },
    Failed { error: String },
    Dead { error: String },
}

impl Final {
    /// The job status this leads to.
    pub fn job_status(&self) -> &'static str {
        match self {
            Final::Done { .. } => "done",
            Final::Retry { .. } => "pending",
            Final::Failed { .. } => "failed",
            Final::Dead { .. } => "dead",
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            Final::Done { .. } => "ok",
            Final::Retry { .. } => "temporary",
            Final::Failed { .. } => "permanent",
            Final::Dead { .. } => "dead",
        }
    }

    fn detail(&self) -> &str {
        match self {
            Final::Done { detail } => detail,
            Final::Retry { error, .. } | Final::Failed { error } | Final::Dead { error } => error,
        }
    }
}

/// Records the end of an attempt. Returns false when `worker` no longer held the
/// lease (another worker took the job over); the attempt is still recorded.
pub fn finish(
    conn: &mut DbConnection,
    worker: &str,
    job: &Job,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
    result: &Final,
) -> QueryResult<bool> {
    let (run_at, last_error) = match result {
        Final::Retry { at, error } => (at.naive_utc(), Some(error.as_str())),
        Final::Done { .. } => (job.run_at, None),
        Final::Failed { error } | Final::Dead { error } => (job.run_at, Some(error.as_str())),
    };
    let held = diesel::update(
        jobs::table
            .find((&job.pharmacy_id, &job.id))
            .filter(jobs::status.eq("running"))
            .filter(jobs::lease_owner.eq(worker)),
    )
    .set((
        jobs::status.eq(result.job_status()),
        jobs::run_at.eq(run_at),
        jobs::last_error.eq(last_error),
        jobs::lease_owner.eq(None::<String>),
        jobs::lease_until.eq(None::<NaiveDateTime>),
        jobs::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?
        == 1;
    let outcome = if held { result.outcome() } else { "lease_lost" };
    let detail: String = result.detail().chars().take(2000).collect();
    // Two workers can both record attempt N after a lease expired: keep the first
    // (a savepoint keeps the surrounding transaction usable on PostgreSQL).
    let inserted = conn.transaction(|c| {
        diesel::insert_into(job_attempts::table)
            .values((
                job_attempts::pharmacy_id.eq(&job.pharmacy_id),
                job_attempts::job_id.eq(&job.id),
                job_attempts::attempt.eq(job.attempts),
                job_attempts::worker.eq(worker),
                job_attempts::started_at.eq(started_at.naive_utc()),
                job_attempts::finished_at.eq(now.naive_utc()),
                job_attempts::outcome.eq(outcome),
                job_attempts::detail.eq(&detail),
            ))
            .execute(c)
    });
    match inserted {
        Err(e) if !backend::is_unique_violation(&e) => return Err(e),
        _ => {}
    }
    Ok(held)
}

/// Puts a failed or dead job back in the queue (a person decided to retry).
pub fn requeue(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    job_id: &str,
    now: DateTime<Utc>,
    dead_after: Duration,
) -> QueryResult<bool> {
    let n = diesel::update(
        jobs::table
            .find((pharmacy_id, job_id))
            .filter(jobs::status.eq_any(["failed", "dead"])),
    )
    .set((
        jobs::status.eq("pending"),
        jobs::run_at.eq(now.naive_utc()),
        jobs::deadline_at.eq((now + dead_after).naive_utc()),
        jobs::lease_owner.eq(None::<String>),
        jobs::lease_until.eq(None::<NaiveDateTime>),
        jobs::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Cancels a job that has not succeeded (its purpose was handled another way).
pub fn cancel(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    job_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(
        jobs::table
            .find((pharmacy_id, job_id))
            .filter(jobs::status.ne("done")),
    )
    .set((
        jobs::status.eq("failed"),
        jobs::last_error.eq(Some("cancelled: handled by staff")),
        jobs::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(())
}

/// One recorded attempt.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = job_attempts)]
pub struct Attempt {
    pub attempt: i32,
    pub worker: String,
    #[schema(value_type = String, format = DateTime)]
    pub started_at: NaiveDateTime,
    #[schema(value_type = String, format = DateTime)]
    pub finished_at: NaiveDateTime,
    /// ok, temporary, permanent, dead or lease_lost
    pub outcome: String,
    pub detail: String,
}

/// The attempts of every job working for `subject_id`, oldest first.
pub fn attempts_for(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    subject_id: &str,
) -> QueryResult<Vec<Attempt>> {
    job_attempts::table
        .inner_join(
            jobs::table.on(jobs::pharmacy_id
                .eq(job_attempts::pharmacy_id)
                .and(jobs::id.eq(job_attempts::job_id))),
        )
        .filter(jobs::pharmacy_id.eq(pharmacy_id))
        .filter(jobs::subject_id.eq(subject_id))
        .order((job_attempts::started_at.asc(), job_attempts::attempt.asc()))
        .select(Attempt::as_select())
        .load(conn)
}

/// The job working for `subject_id` (the newest), if any.
pub fn job_for(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    subject_id: &str,
) -> QueryResult<Option<Job>> {
    jobs::table
        .filter(jobs::pharmacy_id.eq(pharmacy_id))
        .filter(jobs::subject_id.eq(subject_id))
        .order(jobs::created_at.desc())
        .select(Job::as_select())
        .first(conn)
        .optional()
}

/// Counts of jobs by status (all pharmacies; for operators and tests).
pub fn counts(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    jobs::table
        .group_by(jobs::status)
        .select((jobs::status, diesel::dsl::count_star()))
        .load(conn)
}
