//! Sign-in: password (with per-account and per-address failure limits), then the
//! second factor. A password check never holds a database connection or lock;
//! the outcome is recorded afterwards in one transaction with its audit rows.

use chrono::Duration;
use diesel::prelude::*;

use super::hashing::{Busy, Hasher, Verified};
use super::session::{self, Limits, LoadedSession, Stage};
use super::totp::{self, TotpError};
use crate::audit::{self, Event};
use crate::context::{Ctx, Membership};
use crate::db::schema::{login_failures, recovery_codes, users};
use crate::db::{write_transaction, DbConnection, Pool};

/// Why a sign-in step was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("ユーザー名またはパスワードが正しくありません (wrong user name or password)")]
    InvalidCredentials,
    #[error("サインインの失敗が多すぎます。1時間ほどしてから再度お試しください (too many failed sign-ins; try again later)")]
    RateLimited,
    #[error("{0}")]
    SecondFactor(TotpError),
    #[error("サインインが混み合っています (too many sign-ins in progress); please retry")]
    Busy,
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database unavailable: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
}

impl From<Busy> for LoginError {
    fn from(_: Busy) -> Self {
        LoginError::Busy
    }
}

/// Settings of the sign-in use case.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    pub max_failures_per_account: i64,
    pub max_failures_per_addr: i64,
    pub limits: Limits,
    /// Only the `demo` command sets this: accounts may skip second-factor enrolment.
    pub demo_mode: bool,
}

/// A session that was created or advanced.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub csrf_token: String,
    pub stage: Stage,
}

/// Account names are case-insensitive.
pub fn normalize_username(input: &str) -> String {
    crate::domain::text::normalize(input).to_lowercase()
}

#[derive(Debug, Clone)]
struct Account {
    id: String,
    password_hash: String,
    disabled: bool,
    has_totp: bool,
}

fn failures_within_hour(
    conn: &mut DbConnection,
    ctx: &Ctx,
    account: &str,
) -> QueryResult<(i64, i64)> {
    let since = (ctx.now - Duration::hours(1)).naive_utc();
    let by_account = login_failures::table
        .filter(login_failures::account.eq(account))
        .filter(login_failures::failed_at.gt(since))
        .count()
        .get_result(conn)?;
    let by_addr = login_failures::table
        .filter(login_failures::client_addr.eq(&ctx.client_addr))
        .filter(login_failures::failed_at.gt(since))
        .count()
        .get_result(conn)?;
    Ok((by_account, by_addr))
}

fn over_limit(policy: &LoginPolicy, counts: (i64, i64)) -> Option<&'static str> {
    if counts.0 >= policy.max_failures_per_account {
        Some("rate limited: account")
    } else if counts.1 >= policy.max_failures_per_addr {
        Some("rate limited: client address")
    } else {
        None
    }
}

/// Writes one audit row per pharmacy the user belongs to (each pharmacy's admins
/// see their staff's sign-ins), or one in the system chain for unknown accounts.
fn audit_auth(
    conn: &mut DbConnection,
    ctx: &Ctx,
    memberships: &[Membership],
    make: impl Fn(Option<&str>) -> Event,
) -> QueryResult<()> {
    if memberships.is_empty() {
        return audit::record(conn, ctx, make(None));
    }
    for m in memberships {
        audit::record(conn, ctx, make(Some(&m.pharmacy_id)))?;
    }
    Ok(())
}

fn record_failure(
    conn: &mut DbConnection,
    ctx: &Ctx,
    account: &str,
    user_id: Option<&str>,
    reason: &str,
) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(uuid::Uuid::now_v7().to_string()),
            login_failures::account.eq(account),
            login_failures::client_addr.eq(&ctx.client_addr),
            login_failures::failed_at.eq(ctx.now.naive_utc()),
        ))
        .execute(conn)?;
    let memberships = match user_id {
        Some(id) => session::memberships_of(conn, id)?,
        None => Vec::new(),
    };
    audit_auth(conn, ctx, &memberships, |p| {
        let e = Event::denied(p, "auth.sign_in").detail(reason.to_string());
        match user_id {
            Some(id) => e.subject("user", id),
            None => e,
        }
    })
}

fn run_db<T: Send + 'static>(
    pool: &Pool,
    f: impl FnOnce(&mut DbConnection) -> Result<T, LoginError> + Send + 'static,
) -> impl std::future::Future<Output = Result<T, LoginError>> {
    let pool = pool.clone();
    async move {
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|_| LoginError::Busy)?
    }
}

/// Step one: user name and password.
pub async fn sign_in(
    pool: &Pool,
    hasher: &Hasher,
    policy: LoginPolicy,
    ctx: Ctx,
    username: &str,
    password: String,
) -> Result<Issued, LoginError> {
    let account = normalize_username(username);

    // Phase 1: limits and the stored hash (read only).
    let (ctx1, account1) = (ctx.clone(), account.clone());
    let found = run_db(pool, move |conn| {
        let counts = failures_within_hour(conn, &ctx1, &account1)?;
        if let Some(reason) = over_limit(&policy, counts) {
            let user_id: Option<String> = users::table
                .filter(users::username.eq(&account1))
                .select(users::id)
                .first(conn)
                .optional()?;
            write_transaction(conn, |c| {
                let memberships = match &user_id {
                    Some(id) => session::memberships_of(c, id)?,
                    None => Vec::new(),
                };
                audit_auth(c, &ctx1, &memberships, |p| {
                    Event::denied(p, "auth.sign_in").detail(reason)
                })
            })?;
            return Err(LoginError::RateLimited);
        }
        let row: Option<(
            String,
            String,
            Option<chrono::NaiveDateTime>,
            Option<String>,
        )> = users::table
            .filter(users::username.eq(&account1))
            .select((
                users::id,
                users::password_hash,
                users::disabled_at,
                users::totp_secret,
            ))
            .first(conn)
            .optional()?;
        Ok(row.map(|(id, password_hash, disabled_at, totp)| Account {
            id,
            password_hash,
            disabled: disabled_at.is_some(),
            has_totp: totp.is_some(),
        }))
    })
    .await?;

    // Phase 2: the expensive hash, bounded, with no connection held.
    let verified = hasher
        .verify(
            password.clone(),
            found.as_ref().map(|a| a.password_hash.clone()),
        )
        .await?;
    let new_hash = match verified {
        Verified::Yes { needs_rehash: true } => Some(hasher.hash(password).await?),
        _ => None,
    };

    // Phase 3: record the outcome. Failures are committed too (they feed the
    // limits and the audit trail), so the transaction yields `Ok(Err(..))` for them.
    let outcome = run_db(pool, move |conn| {
        write_transaction(
            conn,
            |c| -> Result<Result<Issued, LoginError>, LoginError> {
                let Some(acct) = found else {
                    record_failure(c, &ctx, &account, None, "unknown account")?;
                    return Ok(Err(LoginError::InvalidCredentials));
                };
                if verified == Verified::No {
                    record_failure(c, &ctx, &account, Some(&acct.id), "wrong password")?;
                    return Ok(Err(LoginError::InvalidCredentials));
                }
                if acct.disabled {
                    record_failure(c, &ctx, &account, Some(&acct.id), "account disabled")?;
                    return Ok(Err(LoginError::InvalidCredentials));
                }
                // Failures may have piled up while the hash was computed.
                let counts = failures_within_hour(c, &ctx, &account)?;
                let memberships = session::memberships_of(c, &acct.id)?;
                if let Some(reason) = over_limit(&policy, counts) {
                    audit_auth(c, &ctx, &memberships, |p| {
                        Event::denied(p, "auth.sign_in")
                            .subject("user", &acct.id)
                            .detail(reason)
                    })?;
                    return Ok(Err(LoginError::RateLimited));
                }
                if let Some(h) = &new_hash {
                    diesel::update(users::table.find(&acct.id))
                        .set(users::password_hash.eq(h))
                        .execute(c)?;
                }
                let needs_2fa = memberships.iter().any(|m| m.role.requires_second_factor());
                let stage = if acct.has_totp {
                    Stage::SecondFactor
                } else if needs_2fa && !policy.demo_mode {
                    Stage::Enroll
                } else {
                    Stage::Active
                };
                let (token, csrf_token) =
                    session::create(c, &acct.id, stage, &ctx.client_addr, ctx.now, policy.limits)?;
                let detail = format!(
                    "password accepted; stage={}{}",
                    stage.as_str(),
                    if new_hash.is_some() {
                        "; hash upgraded"
                    } else {
                        ""
                    }
                );
                audit_auth(c, &ctx, &memberships, |p| {
                    Event::ok(p, "auth.sign_in")
                        .subject("user", &acct.id)
                        .detail(detail.clone())
                })?;
                Ok(Ok(Issued {
                    token,
                    csrf_token,
                    stage,
                }))
            },
        )
    })
    .await?;
    outcome
}

/// Which second factor the person typed.
#[derive(Debug, Clone)]
pub enum SecondFactor {
    Totp(String),
    RecoveryCode(String),
}

/// Step two: a TOTP code (usable once) or a recovery code (usable once).
pub fn second_factor(
    conn: &mut DbConnection,
    policy: LoginPolicy,
    ctx: &Ctx,
    sess: &LoadedSession,
    factor: SecondFactor,
) -> Result<Issued, LoginError> {
    let username: String = users::table
        .find(&sess.user_id)
        .select(users::username)
        .first(conn)?;
    let counts = failures_within_hour(conn, ctx, &username)?;
    if let Some(reason) = over_limit(&policy, counts) {
        write_transaction(conn, |c| {
            audit_auth(c, ctx, &sess.memberships, |p| {
                Event::denied(p, "auth.second_factor")
                    .subject("user", &sess.user_id)
                    .detail(reason)
            })
        })?;
        return Err(LoginError::RateLimited);
    }
    let outcome = write_transaction(conn, |c| {
        let (secret, last_step): (Option<String>, Option<i64>) = users::table
            .find(&sess.user_id)
            .select((users::totp_secret, users::totp_last_step))
            .first(c)?;
        let Some(secret) = secret else {
            return Ok(Err(TotpError::BadSecret));
        };
        let accepted = match &factor {
            SecondFactor::Totp(code) => {
                match totp::verify(&secret, code, ctx.now.timestamp().max(0) as u64, last_step) {
                    Ok(step) => {
                        diesel::update(users::table.find(&sess.user_id))
                            .set(users::totp_last_step.eq(Some(step)))
                            .execute(c)?;
                        Ok("totp")
                    }
                    Err(e) => Err(e),
                }
            }
            SecondFactor::RecoveryCode(code) => {
                let hash = super::token_hash(&totp::normalize_recovery_code(code));
                let used = diesel::update(
                    recovery_codes::table
                        .filter(recovery_codes::user_id.eq(&sess.user_id))
                        .filter(recovery_codes::code_hash.eq(&hash))
                        .filter(recovery_codes::used_at.is_null()),
                )
                .set(recovery_codes::used_at.eq(Some(ctx.now.naive_utc())))
                .execute(c)?;
                if used == 1 {
                    Ok("recovery code")
                } else {
                    Err(TotpError::Wrong)
                }
            }
        };
        match accepted {
            Ok(how) => {
                let issued = session::advance(
                    c,
                    sess,
                    Stage::Active,
                    &ctx.client_addr,
                    ctx.now,
                    policy.limits,
                )?;
                audit_auth(c, ctx, &sess.memberships, |p| {
                    Event::ok(p, "auth.second_factor")
                        .subject("user", &sess.user_id)
                        .detail(format!("accepted: {how}"))
                })?;
                Ok::<_, LoginError>(Ok(Issued {
                    token: issued.0,
                    csrf_token: issued.1,
                    stage: Stage::Active,
                }))
            }
            Err(e) => Ok(Err(e)),
        }
    })?;
    match outcome {
        Ok(issued) => Ok(issued),
        Err(e) => {
            let reason = match e {
                TotpError::Reused => "reused code",
                TotpError::Wrong => "wrong code",
                TotpError::BadSecret => "no second factor enrolled",
            };
            write_transaction(conn, |c| {
                record_failure(c, ctx, &username, Some(&sess.user_id), reason)
            })?;
            Err(LoginError::SecondFactor(e))
        }
    }
}

/// Signs out: ends this session.
pub fn sign_out(conn: &mut DbConnection, ctx: &Ctx, sess: &LoadedSession) -> QueryResult<()> {
    write_transaction(conn, |c| {
        session::destroy(c, &sess.id_hash)?;
        audit_auth(c, ctx, &sess.memberships, |p| {
            Event::ok(p, "auth.sign_out").subject("user", &sess.user_id)
        })
    })
}
