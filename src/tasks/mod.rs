//! Staff tasks: work the system asks of people (an overdue original to chase,
//! later unconfirmed deliveries). A task is keyed by its kind and subject, so a
//! periodic sweep creates it once however often it runs.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::backend::is_unique_violation;
use crate::db::schema::staff_tasks;
use crate::db::{write_transaction, DbConnection};
use crate::domain::role::Permission;

/// Task kind: a copy's original has not arrived in time.
pub const ORIGINAL_OVERDUE: &str = "original_overdue";

/// A task as stored.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = staff_tasks)]
pub struct StaffTask {
    pub id: String,
    pub kind: String,
    pub subject_type: String,
    pub subject_id: String,
    pub title: String,
    pub urgent: bool,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_on: Option<NaiveDate>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub done_at: Option<NaiveDateTime>,
    pub done_by: Option<String>,
    pub done_note: Option<String>,
}

/// Why a task operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("タスクが見つかりません (task not found)")]
    NotFound,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<Denied> for TaskError {
    fn from(d: Denied) -> Self {
        TaskError::Forbidden(d)
    }
}

/// A task to make (or to update when it exists and is still open).
pub struct NewTask<'a> {
    pub kind: &'a str,
    pub subject_type: &'a str,
    pub subject_id: &'a str,
    pub title: String,
    pub urgent: bool,
    pub due_on: Option<NaiveDate>,
}

/// Creates the task unless one exists for the kind and subject (an open one is
/// updated: title and urgency). Returns true when created. Runs in the caller's
/// transaction (a savepoint guards the insert).
pub fn ensure(
    c: &mut DbConnection,
    pharmacy_id: &str,
    t: &NewTask<'_>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let existing: Option<(String, Option<NaiveDateTime>)> = staff_tasks::table
        .filter(staff_tasks::pharmacy_id.eq(pharmacy_id))
        .filter(staff_tasks::kind.eq(t.kind))
        .filter(staff_tasks::subject_id.eq(t.subject_id))
        .select((staff_tasks::id, staff_tasks::done_at))
        .first(c)
        .optional()?;
    if let Some((id, done)) = existing {
        if done.is_none() {
            diesel::update(staff_tasks::table.find((pharmacy_id, &id)))
                .set((
                    staff_tasks::title.eq(&t.title),
                    staff_tasks::urgent.eq(t.urgent),
                ))
                .execute(c)?;
        }
        return Ok(false);
    }
    let inserted = c.transaction(|c| {
        diesel::insert_into(staff_tasks::table)
            .values((
                staff_tasks::pharmacy_id.eq(pharmacy_id),
                staff_tasks::id.eq(uuid::Uuid::now_v7().to_string()),
                staff_tasks::kind.eq(t.kind),
                staff_tasks::subject_type.eq(t.subject_type),
                staff_tasks::subject_id.eq(t.subject_id),
                staff_tasks::title.eq(&t.title),
                staff_tasks::urgent.eq(t.urgent),
                staff_tasks::due_on.eq(t.due_on),
                staff_tasks::created_at.eq(now),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Closes the open task of `kind` for `subject_id`, if any (the work was done).
pub fn close(
    c: &mut DbConnection,
    pharmacy_id: &str,
    kind: &str,
    subject_id: &str,
    by: &str,
    note: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        staff_tasks::table
            .filter(staff_tasks::pharmacy_id.eq(pharmacy_id))
            .filter(staff_tasks::kind.eq(kind))
            .filter(staff_tasks::subject_id.eq(subject_id))
            .filter(staff_tasks::done_at.is_null()),
    )
    .set((
        staff_tasks::done_at.eq(Some(now)),
        staff_tasks::done_by.eq(Some(by)),
        staff_tasks::done_note.eq(Some(note)),
    ))
    .execute(c)
}

/// The pharmacy's open tasks, urgent first (clerks and pharmacists).
pub fn open(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
) -> Result<Vec<StaffTask>, TaskError> {
    crate::authz::require::<TaskError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "task.listed",
        None,
    )?;
    let rows = staff_tasks::table
        .filter(staff_tasks::pharmacy_id.eq(pharmacy_id))
        .filter(staff_tasks::done_at.is_null())
        .order((
            staff_tasks::urgent.desc(),
            staff_tasks::due_on.asc(),
            staff_tasks::created_at.asc(),
        ))
        .limit(500)
        .select(StaffTask::as_select())
        .load(conn)?;
    // Titles carry patients' initials and dates: the read is audited.
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "task.listed").detail(format!("{} open", rows.len())),
    )?;
    Ok(rows)
}

/// Marks a task done with a note of what was done.
pub fn complete(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    id: &str,
    note: &str,
) -> Result<StaffTask, TaskError> {
    crate::authz::require::<TaskError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "task.done",
        Some(("task", id)),
    )?;
    let note: String = crate::domain::text::normalize(note)
        .chars()
        .take(500)
        .collect();
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let n = diesel::update(
            staff_tasks::table
                .find((pharmacy_id, id))
                .filter(staff_tasks::done_at.is_null()),
        )
        .set((
            staff_tasks::done_at.eq(Some(now)),
            staff_tasks::done_by.eq(Some(&ctx.actor.name)),
            staff_tasks::done_note.eq(Some(&note)),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(TaskError::NotFound);
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "task.done")
                .subject("task", id)
                .detail(note.clone()),
        )?;
        Ok(staff_tasks::table
            .find((pharmacy_id, id))
            .select(StaffTask::as_select())
            .first(c)?)
    })
}
