//! The audit trail (アクセスログ): an append-only, hash-chained record of every
//! state change and every read of patient data, written in the same transaction
//! as the action it records.

pub mod verify;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::Ctx;
use crate::db::schema::{audit_chain_heads, audit_events};
use crate::db::{backend::is_unique_violation, DbConnection};
use crate::domain::audit::{row_hash, AuditContent, Outcome, GENESIS_HASH, SYSTEM_CHAIN};

/// What to record. Details must never contain patient names, passwords or tokens.
#[derive(Debug, Clone)]
pub struct Event {
    pub pharmacy_id: Option<String>,
    pub action: String,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    pub outcome: Outcome,
    pub detail: String,
}

impl Event {
    /// A successful action in `pharmacy_id` (`None`: the system chain).
    pub fn ok(pharmacy_id: Option<&str>, action: &str) -> Self {
        Event {
            pharmacy_id: pharmacy_id.map(str::to_string),
            action: action.to_string(),
            subject_type: None,
            subject_id: None,
            outcome: Outcome::Ok,
            detail: String::new(),
        }
    }

    /// A refused action.
    pub fn denied(pharmacy_id: Option<&str>, action: &str) -> Self {
        Event {
            outcome: Outcome::Denied,
            ..Event::ok(pharmacy_id, action)
        }
    }

    /// An action attempted that failed (e.g. an outside service refused).
    pub fn failed(pharmacy_id: Option<&str>, action: &str) -> Self {
        Event {
            outcome: Outcome::Failed,
            ..Event::ok(pharmacy_id, action)
        }
    }

    /// Sets the subject.
    pub fn subject(mut self, kind: &str, id: &str) -> Self {
        self.subject_type = Some(kind.to_string());
        self.subject_id = Some(id.to_string());
        self
    }

    /// Sets the free-form detail (no personal data).
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

/// Appends one event to its chain. Call inside the transaction of the action.
pub fn record(conn: &mut DbConnection, ctx: &Ctx, event: Event) -> QueryResult<()> {
    record_many(conn, ctx, vec![event])
}

/// Appends events of one use case in order, in the caller's transaction. Events of
/// one chain share one bump of the chain head (fewer round trips, shorter lock).
pub fn record_many(conn: &mut DbConnection, ctx: &Ctx, events: Vec<Event>) -> QueryResult<()> {
    use audit_chain_heads::dsl as h;
    let Some(first) = events.first() else {
        return Ok(());
    };
    let chain = first
        .pharmacy_id
        .clone()
        .unwrap_or_else(|| SYSTEM_CHAIN.to_string());
    if events
        .iter()
        .any(|e| e.pharmacy_id.as_deref().unwrap_or(SYSTEM_CHAIN) != chain)
    {
        for e in events {
            record_many(conn, ctx, vec![e])?;
        }
        return Ok(());
    }
    let chain = chain.as_str();
    let n = events.len() as i64;

    // Bumping the head first takes its row lock (PostgreSQL), so appends to one
    // chain are serialised; SQLite's write transaction already is.
    let mut bumped = diesel::update(h::audit_chain_heads.filter(h::chain_key.eq(chain)))
        .set(h::seq.eq(h::seq + n))
        .execute(conn)?;
    if bumped == 0 {
        let created = conn.transaction(|c| {
            diesel::insert_into(h::audit_chain_heads)
                .values((
                    h::chain_key.eq(chain),
                    h::seq.eq(n),
                    h::hash.eq(GENESIS_HASH),
                ))
                .execute(c)
        });
        match created {
            Ok(k) => bumped = k,
            // Another transaction created the head first: wait for its lock.
            Err(e) if is_unique_violation(&e) => {
                bumped = diesel::update(h::audit_chain_heads.filter(h::chain_key.eq(chain)))
                    .set(h::seq.eq(h::seq + n))
                    .execute(conn)?;
            }
            Err(e) => return Err(e),
        }
    }
    debug_assert_eq!(bumped, 1);
    let (last_seq, mut prev_hash): (i64, String) = h::audit_chain_heads
        .filter(h::chain_key.eq(chain))
        .select((h::seq, h::hash))
        .first(conn)?;

    let occurred_at = ctx.now.naive_utc();
    for (i, event) in events.iter().enumerate() {
        let seq = last_seq - n + 1 + i as i64;
        let id = uuid::Uuid::now_v7().to_string();
        let content = AuditContent {
            chain_key: chain,
            seq,
            id: &id,
            occurred_at,
            pharmacy_id: event.pharmacy_id.as_deref(),
            actor_user_id: ctx.actor.user_id.as_deref(),
            actor_name: Some(ctx.actor.name.as_str()),
            action: &event.action,
            subject_type: event.subject_type.as_deref(),
            subject_id: event.subject_id.as_deref(),
            outcome: event.outcome.as_str(),
            client_addr: Some(ctx.client_addr.as_str()),
            request_id: ctx.request_id.as_deref(),
            detail: &event.detail,
        };
        let hash = row_hash(&prev_hash, &content);
        use audit_events::dsl as a;
        diesel::insert_into(a::audit_events)
            .values((
                a::chain_key.eq(chain),
                a::seq.eq(seq),
                a::id.eq(&id),
                a::occurred_at.eq(occurred_at),
                a::pharmacy_id.eq(event.pharmacy_id.as_deref()),
                a::actor_user_id.eq(ctx.actor.user_id.as_deref()),
                a::actor_name.eq(Some(ctx.actor.name.as_str())),
                a::action.eq(&event.action),
                a::subject_type.eq(event.subject_type.as_deref()),
                a::subject_id.eq(event.subject_id.as_deref()),
                a::outcome.eq(event.outcome.as_str()),
                a::client_addr.eq(Some(ctx.client_addr.as_str())),
                a::request_id.eq(ctx.request_id.as_deref()),
                a::detail.eq(&event.detail),
                a::prev_hash.eq(&prev_hash),
                a::hash.eq(&hash),
            ))
            .execute(conn)?;
        prev_hash = hash;
    }
    diesel::update(h::audit_chain_heads.filter(h::chain_key.eq(chain)))
        .set(h::hash.eq(&prev_hash))
        .execute(conn)?;
    Ok(())
}

/// Records an event in a transaction of its own (refusals, where nothing else changes).
pub fn record_alone(conn: &mut DbConnection, ctx: &Ctx, event: Event) -> QueryResult<()> {
    crate::db::write_transaction(conn, |c| record(c, ctx, event))
}

/// One row as shown on the audit page and in the API.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub seq: i64,
    pub id: String,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: NaiveDateTime,
    pub pharmacy_id: Option<String>,
    pub actor_user_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    pub outcome: String,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
    pub detail: String,
}

/// Filters for listing a pharmacy's audit trail.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actions starting with this text (e.g. `patient.`).
    pub action_prefix: Option<String>,
    pub actor_name: Option<String>,
    pub subject_id: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// Rows with `seq` below this (paging backwards from the newest).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// Lists one chain's events, newest first. Authorization is the caller's job.
pub fn list(
    conn: &mut DbConnection,
    chain: &str,
    filter: &AuditFilter,
) -> QueryResult<Vec<AuditRow>> {
    use audit_events::dsl as a;
    let mut q = a::audit_events
        .filter(a::chain_key.eq(chain))
        .select(AuditRow::as_select())
        .order(a::seq.desc())
        .limit(filter.limit.clamp(1, 500))
        .into_boxed();
    if let Some(p) = &filter.action_prefix {
        q = q.filter(a::action.like(format!("{}%", escape_like(p))).escape('\\'));
    }
    if let Some(n) = &filter.actor_name {
        q = q.filter(a::actor_name.eq(n.clone()));
    }
    if let Some(s) = &filter.subject_id {
        q = q.filter(a::subject_id.eq(s.clone()));
    }
    if let Some(o) = &filter.outcome {
        q = q.filter(a::outcome.eq(o.clone()));
    }
    if let Some(f) = filter.from {
        q = q.filter(a::occurred_at.ge(f));
    }
    if let Some(u) = filter.until {
        q = q.filter(a::occurred_at.lt(u));
    }
    if let Some(b) = filter.before_seq {
        q = q.filter(a::seq.lt(b));
    }
    q.load(conn)
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `\` as the escape character.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
