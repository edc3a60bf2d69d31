//! Server-side staff sessions. The cookie carries a 128-bit random id; the
//! database keeps only its SHA-256, so a leaked table cannot be replayed. Sessions
//! end after 15 minutes idle or 12 hours in all, at sign-out, and when the account
//! is disabled (all of a user's sessions at once).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::context::Membership;
use crate::db::schema::{memberships, pharmacies, sessions, users};
use crate::db::DbConnection;
use crate::domain::role::Role;

/// How far a session has come through sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Password accepted; waiting for the TOTP or a recovery code.
    SecondFactor,
    /// Password accepted; the account must enrol a second factor before anything else.
    Enroll,
    /// Fully signed in.
    Active,
}

impl Stage {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::SecondFactor => "second_factor",
            Stage::Enroll => "enroll",
            Stage::Active => "active",
        }
    }

    fn parse(s: &str) -> Stage {
        match s {
            "active" => Stage::Active,
            "enroll" => Stage::Enroll,
            // Anything unexpected is treated as the most restricted stage.
            _ => Stage::SecondFactor,
        }
    }
}

/// Session time limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub idle: Duration,
    pub absolute: Duration,
}

/// A valid session with its user.
#[derive(Debug, Clone)]
pub struct LoadedSession {
    pub id_hash: String,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub stage: Stage,
    pub csrf_token: String,
    pub pending_totp_secret: Option<String>,
    pub has_totp: bool,
    pub memberships: Vec<Membership>,
    pub created_at: NaiveDateTime,
}

/// What a presented session cookie turned out to be. Looking up never writes;
/// the caller applies [`expire`] or [`touch`] as told.
#[derive(Debug, Clone)]
pub enum Lookup {
    Valid {
        session: Box<LoadedSession>,
        /// `last_seen_at` is old enough to be refreshed.
        touch: bool,
    },
    /// It existed but timed out or its account was disabled.
    Expired {
        id_hash: String,
        user_id: String,
        reason: &'static str,
    },
    /// Unknown id (signed out, replaced, or forged).
    Unknown,
}

/// Touching `last_seen_at` at most once a minute keeps reads from becoming writes.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Starts a session; returns the cookie value and the CSRF token.
pub fn create(
    conn: &mut DbConnection,
    user_id: &str,
    stage: Stage,
    client_addr: &str,
    now: DateTime<Utc>,
    limits: Limits,
) -> QueryResult<(String, String)> {
    create_with_start(conn, user_id, stage, client_addr, now, now, limits, None)
}

#[allow(clippy::too_many_arguments)]
fn create_with_start(
    conn: &mut DbConnection,
    user_id: &str,
    stage: Stage,
    client_addr: &str,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
    limits: Limits,
    pending_totp_secret: Option<String>,
) -> QueryResult<(String, String)> {
    let token = super::random_token::<16>();
    let csrf = super::random_token::<32>();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(super::token_hash(&token)),
            sessions::user_id.eq(user_id),
            sessions::stage.eq(stage.as_str()),
            sessions::csrf_token.eq(&csrf),
            sessions::pending_totp_secret.eq(pending_totp_secret),
            sessions::client_addr.eq(client_addr),
            sessions::created_at.eq(started.naive_utc()),
            sessions::last_seen_at.eq(now.naive_utc()),
            sessions::expires_at.eq((started + limits.absolute).naive_utc()),
        ))
        .execute(conn)?;
    Ok((token, csrf))
}

/// Replaces a session by a new id at a later stage (a new id at every privilege
/// change defeats session fixation). The absolute limit still counts from sign-in.
pub fn advance(
    conn: &mut DbConnection,
    old: &LoadedSession,
    stage: Stage,
    client_addr: &str,
    now: DateTime<Utc>,
    limits: Limits,
) -> QueryResult<(String, String)> {
    destroy(conn, &old.id_hash)?;
    create_with_start(
        conn,
        &old.user_id,
        stage,
        client_addr,
        old.created_at.and_utc(),
        now,
        limits,
        None,
    )
}

/// Stores the secret being enrolled (shown once, confirmed by a code).
pub fn set_pending_secret(
    conn: &mut DbConnection,
    id_hash: &str,
    secret: Option<&str>,
) -> QueryResult<()> {
    diesel::update(sessions::table.find(id_hash))
        .set(sessions::pending_totp_secret.eq(secret))
        .execute(conn)?;
    Ok(())
}

/// The roles of `user_id` in each pharmacy.
pub fn memberships_of(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<Membership>> {
    let rows: Vec<(String, String, String, String)> = memberships::table
        .inner_join(pharmacies::table)
        .filter(memberships::user_id.eq(user_id))
        .order(pharmacies::code.asc())
        .select((
            memberships::pharmacy_id,
            pharmacies::code,
            pharmacies::name,
            memberships::role,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(pharmacy_id, pharmacy_code, pharmacy_name, role)| {
            Role::parse(&role).ok().map(|role| Membership {
                pharmacy_id,
                pharmacy_code,
                pharmacy_name,
                role,
            })
        })
        .collect())
}

type SessionJoin = (
    (String, String, String, String, Option<String>),
    (NaiveDateTime, NaiveDateTime, NaiveDateTime),
    (String, String, Option<String>, Option<NaiveDateTime>),
);

/// Looks up the session for a cookie value, expiring it if it timed out.
pub fn lookup(
    conn: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
    limits: Limits,
) -> QueryResult<Lookup> {
    let id_hash = super::token_hash(token);
    let row: Option<SessionJoin> = sessions::table
        .inner_join(users::table)
        .filter(sessions::id_hash.eq(&id_hash))
        .select((
            (
                sessions::id_hash,
                sessions::user_id,
                sessions::stage,
                sessions::csrf_token,
                sessions::pending_totp_secret,
            ),
            (
                sessions::created_at,
                sessions::last_seen_at,
                sessions::expires_at,
            ),
            (
                users::username,
                users::display_name,
                users::totp_secret,
                users::disabled_at,
            ),
        ))
        .first(conn)
        .optional()?;
    let Some((
        (id_hash, user_id, stage, csrf_token, pending_totp_secret),
        (created_at, last_seen_at, expires_at),
        (username, display_name, totp_secret, disabled_at),
    )) = row
    else {
        return Ok(Lookup::Unknown);
    };
    let now_naive = now.naive_utc();
    let reason = if disabled_at.is_some() {
        Some("account disabled")
    } else if now_naive >= expires_at {
        Some("absolute timeout")
    } else if now_naive - last_seen_at >= limits.idle {
        Some("idle timeout")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Ok(Lookup::Expired {
            id_hash,
            user_id,
            reason,
        });
    }
    let touch = (now_naive - last_seen_at).num_seconds() >= TOUCH_INTERVAL_SECS;
    let memberships = memberships_of(conn, &user_id)?;
    Ok(Lookup::Valid {
        touch,
        session: Box::new(LoadedSession {
            id_hash,
            user_id,
            username,
            display_name,
            stage: Stage::parse(&stage),
            csrf_token,
            pending_totp_secret,
            has_totp: totp_secret.is_some(),
            memberships,
            created_at,
        }),
    })
}

/// Ends a timed-out session and audits it, in one transaction.
pub fn expire(
    conn: &mut DbConnection,
    ctx: &crate::context::Ctx,
    id_hash: &str,
    user_id: &str,
    reason: &str,
) -> QueryResult<()> {
    crate::db::write_transaction(conn, |c| {
        if destroy(c, id_hash)? == 0 {
            return Ok(()); // another request already ended it
        }
        let pharmacies = memberships_of(c, user_id)?;
        let make = |p: Option<&str>| {
            crate::audit::Event::denied(p, "auth.session_expired")
                .subject("user", user_id)
                .detail(reason.to_string())
        };
        if pharmacies.is_empty() {
            crate::audit::record(c, ctx, make(None))?;
        }
        for m in &pharmacies {
            crate::audit::record(c, ctx, make(Some(&m.pharmacy_id)))?;
        }
        Ok(())
    })
}

/// Refreshes `last_seen_at` (idle timeout bookkeeping; not an audited change).
pub fn touch(conn: &mut DbConnection, id_hash: &str, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(sessions::table.find(id_hash))
        .set(sessions::last_seen_at.eq(now.naive_utc()))
        .execute(conn)?;
    Ok(())
}

/// Ends one session.
pub fn destroy(conn: &mut DbConnection, id_hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id_hash)).execute(conn)
}

/// Ends every session of a user (sign-out everywhere, disable, 2FA reset).
pub fn destroy_all_for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

/// Deletes sessions past their absolute limit (housekeeping).
pub fn purge_expired(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now.naive_utc()))).execute(conn)
}
