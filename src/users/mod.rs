//! Staff accounts: creation, roles per pharmacy, disabling (ends every session at
//! once), second-factor reset and password changes. Admins manage the staff of
//! their own pharmacy; the operator manages everyone from the command line.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::auth::session;
use crate::context::{Ctx, Denied};
use crate::db::backend::is_unique_violation;
use crate::db::schema::{memberships, recovery_codes, users};
use crate::db::{write_transaction, DbConnection};
use crate::domain::fields::FieldErrors;
use crate::domain::password::check_policy;
use crate::domain::role::{Permission, Role};

/// A staff member as listed for an admin of one pharmacy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffMember {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub has_second_factor: bool,
    pub disabled: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
}

/// A new account as submitted.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewUserInput {
    /// Login name: 3-32 of a-z, 0-9, `.`, `_`, `-`.
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Initial password; generated when absent (and returned once).
    #[serde(default)]
    pub password: Option<String>,
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid account data: {0}")]
    Invalid(FieldErrors),
    #[error("ユーザー名 {0} は使用されています (user name taken)")]
    UsernameTaken(String),
    #[error("ユーザーが見つかりません (user not found)")]
    NotFound,
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("自分自身の{0}はできません (cannot do this to your own account)")]
    SelfAction(&'static str),
    #[error("現在のパスワードが正しくありません (current password is wrong)")]
    WrongPassword,
    #[error("busy; please retry")]
    Busy,
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// Parses a login name.
pub fn parse_username(input: &str) -> Result<String, String> {
    let n = crate::auth::login::normalize_username(input);
    let ok = (3..=32).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(n)
    } else {
        Err("3〜32文字の英小文字・数字・. _ - (3-32 of a-z 0-9 . _ -)".into())
    }
}

/// Checks the fields of a new account; returns (username, display name, password
/// if given). The password rule depends on whether the role requires 2FA.
pub fn validate_new(input: &NewUserInput) -> Result<(String, String, Option<String>), FieldErrors> {
    let mut e = FieldErrors::new();
    let username = e.check("username", parse_username(&input.username));
    let display_name = input.display_name.trim().to_string();
    if display_name.is_empty() || display_name.chars().count() > 100 {
        e.add(
            "display_name",
            "1〜100文字で入力してください (1-100 characters)",
        );
    }
    if let Some(p) = &input.password {
        if let Err(m) = check_policy(p, input.role.requires_second_factor()) {
            e.add("password", m);
        }
    }
    let password = input.password.clone();
    e.into_result(|| (username.unwrap_or_default(), display_name, password))
}

/// A random initial password (20 characters, passes the policy).
pub fn generate_password() -> String {
    crate::auth::random_token::<15>()
}

/// Staff management needs the admin role in the pharmacy acted in.
fn authorize(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    action: &str,
    target: Option<&str>,
) -> Result<(), UserError> {
    crate::authz::require(
        conn,
        ctx,
        pharmacy_id,
        Permission::ManageUsers,
        action,
        target.map(|t| ("user", t)),
    )
}

impl From<Denied> for UserError {
    fn from(d: Denied) -> Self {
        UserError::Forbidden(d)
    }
}

/// The target must be a member of the pharmacy the admin acts in.
fn member_role(
    conn: &mut DbConnection,
    pharmacy_id: &str,
    user_id: &str,
) -> Result<Role, UserError> {
    let role: Option<String> = memberships::table
        .find((pharmacy_id, user_id))
        .select(memberships::role)
        .first(conn)
        .optional()?;
    role.and_then(|r| Role::parse(&r).ok())
        .ok_or(UserError::NotFound)
}

/// Creates an account with a role in `pharmacy_id`. `password_hash` is computed by
/// the caller (off the database thread) from the validated password.
pub fn add(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
) -> Result<String, UserError> {
    authorize(conn, ctx, pharmacy_id, "user.created", None)?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let inserted = diesel::insert_into(users::table)
            .values((
                users::id.eq(&id),
                users::username.eq(username),
                users::display_name.eq(display_name),
                users::password_hash.eq(password_hash),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(c);
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(UserError::UsernameTaken(username.to_string()))
            }
            other => other?,
        };
        diesel::insert_into(memberships::table)
            .values((
                memberships::pharmacy_id.eq(pharmacy_id),
                memberships::user_id.eq(&id),
                memberships::role.eq(role.as_str()),
                memberships::created_at.eq(now),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "user.created")
                .subject("user", &id)
                .detail(format!("role={}", role.as_str())),
        )?;
        Ok(id.clone())
    })
}

/// Gives an existing account a role in `pharmacy_id` (or changes it).
pub fn set_role(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    user_id: &str,
    role: Role,
    allow_new_membership: bool,
) -> Result<(), UserError> {
    authorize(conn, ctx, pharmacy_id, "user.role_changed", Some(user_id))?;
    if ctx.actor.user_id.as_deref() == Some(user_id) && role != Role::Admin {
        return Err(UserError::SelfAction(
            "管理者権限の解除 (removing your own admin role)",
        ));
    }
    write_transaction(conn, |c| {
        let exists: i64 = users::table.find(user_id).count().get_result(c)?;
        if exists == 0 {
            return Err(UserError::NotFound);
        }
        let previous = member_role(c, pharmacy_id, user_id).ok();
        match previous {
            Some(_) => {
                diesel::update(memberships::table.find((pharmacy_id, user_id)))
                    .set(memberships::role.eq(role.as_str()))
                    .execute(c)?;
            }
            None if allow_new_membership => {
                diesel::insert_into(memberships::table)
                    .values((
                        memberships::pharmacy_id.eq(pharmacy_id),
                        memberships::user_id.eq(user_id),
                        memberships::role.eq(role.as_str()),
                        memberships::created_at.eq(ctx.now.naive_utc()),
                    ))
                    .execute(c)?;
            }
            None => return Err(UserError::NotFound),
        }
        // A changed role changes what the open sessions may do and whether 2FA is
        // required: sign the user in again.
        session::destroy_all_for_user(c, user_id)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "user.role_changed")
                .subject("user", user_id)
                .detail(format!(
                    "{} -> {}",
                    previous.map(Role::as_str).unwrap_or("none"),
                    role.as_str()
                )),
        )?;
        Ok(())
    })
}

/// Disables an account and ends all its sessions at once.
pub fn disable(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    user_id: &str,
) -> Result<(), UserError> {
    authorize(conn, ctx, pharmacy_id, "user.disabled", Some(user_id))?;
    if ctx.actor.user_id.as_deref() == Some(user_id) {
        return Err(UserError::SelfAction("無効化 (disabling your own account)"));
    }
    write_transaction(conn, |c| {
        if !ctx.actor.operator {
            member_role(c, pharmacy_id, user_id)?;
        }
        let n = diesel::update(users::table.find(user_id))
            .set((
                users::disabled_at.eq(Some(ctx.now.naive_utc())),
                users::updated_at.eq(ctx.now.naive_utc()),
            ))
            .execute(c)?;
        if n == 0 {
            return Err(UserError::NotFound);
        }
        let ended = session::destroy_all_for_user(c, user_id)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "user.disabled")
                .subject("user", user_id)
                .detail(format!("sessions ended: {ended}")),
        )?;
        Ok(())
    })
}

/// Re-enables a disabled account.
pub fn enable(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    user_id: &str,
) -> Result<(), UserError> {
    authorize(conn, ctx, pharmacy_id, "user.enabled", Some(user_id))?;
    write_transaction(conn, |c| {
        if !ctx.actor.operator {
            member_role(c, pharmacy_id, user_id)?;
        }
        let n = diesel::update(users::table.find(user_id))
            .set((
                users::disabled_at.eq(None::<NaiveDateTime>),
                users::updated_at.eq(ctx.now.naive_utc()),
            ))
            .execute(c)?;
        if n == 0 {
            return Err(UserError::NotFound);
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "user.enabled").subject("user", user_id),
        )?;
        Ok(())
    })
}

/// Removes an account's second factor and recovery codes (lost phone). The user
/// must enrol again at the next sign-in; all sessions end.
pub fn reset_second_factor(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    user_id: &str,
) -> Result<(), UserError> {
    authorize(
        conn,
        ctx,
        pharmacy_id,
        "user.second_factor_reset",
        Some(user_id),
    )?;
    write_transaction(conn, |c| {
        if !ctx.actor.operator {
            member_role(c, pharmacy_id, user_id)?;
        }
        let n = diesel::update(users::table.find(user_id))
            .set((
                users::totp_secret.eq(None::<String>),
                users::totp_enabled_at.eq(None::<NaiveDateTime>),
                users::totp_last_step.eq(None::<i64>),
                users::updated_at.eq(ctx.now.naive_utc()),
            ))
            .execute(c)?;
        if n == 0 {
            return Err(UserError::NotFound);
        }
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(c)?;
        session::destroy_all_for_user(c, user_id)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "user.second_factor_reset").subject("user", user_id),
        )?;
        Ok(())
    })
}

/// The staff of one pharmacy (admins).
pub fn list(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
) -> Result<Vec<StaffMember>, UserError> {
    authorize(conn, ctx, pharmacy_id, "user.listed", None)?;
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<NaiveDateTime>,
        NaiveDateTime,
    );
    let rows: Vec<Row> = users::table
        .inner_join(memberships::table)
        .filter(memberships::pharmacy_id.eq(pharmacy_id))
        .order(users::username.asc())
        .select((
            users::id,
            users::username,
            users::display_name,
            memberships::role,
            users::totp_secret,
            users::disabled_at,
            users::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, username, display_name, role, totp, disabled, created_at)| StaffMember {
                id,
                username,
                display_name,
                role: Role::parse(&role).unwrap_or(Role::Courier),
                has_second_factor: totp.is_some(),
                disabled: disabled.is_some(),
                created_at,
            },
        )
        .collect())
}

/// Looks up an account id by login name (command line).
pub fn find_id(conn: &mut DbConnection, username: &str) -> QueryResult<Option<String>> {
    users::table
        .filter(users::username.eq(crate::auth::login::normalize_username(username)))
        .select(users::id)
        .first(conn)
        .optional()
}

/// The pharmacies an account belongs to (command line: where to audit).
pub fn pharmacies_of(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<String>> {
    memberships::table
        .filter(memberships::user_id.eq(user_id))
        .select(memberships::pharmacy_id)
        .load(conn)
}

/// The stored hash and whether the account has 2FA (for a password change).
pub fn password_state(conn: &mut DbConnection, user_id: &str) -> QueryResult<(String, bool)> {
    let (hash, totp): (String, Option<String>) = users::table
        .find(user_id)
        .select((users::password_hash, users::totp_secret))
        .first(conn)?;
    Ok((hash, totp.is_some()))
}

/// Stores a new password hash for the signed-in user and ends their other sessions.
pub fn set_password(
    conn: &mut DbConnection,
    ctx: &Ctx,
    user_id: &str,
    keep_session: Option<&str>,
    new_hash: &str,
) -> Result<(), UserError> {
    write_transaction(conn, |c| {
        diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(new_hash),
                users::updated_at.eq(ctx.now.naive_utc()),
            ))
            .execute(c)?;
        let mut q = diesel::delete(crate::db::schema::sessions::table)
            .filter(crate::db::schema::sessions::user_id.eq(user_id))
            .into_boxed();
        if let Some(keep) = keep_session {
            q = q.filter(crate::db::schema::sessions::id_hash.ne(keep));
        }
        q.execute(c)?;
        for p in pharmacies_of(c, user_id)? {
            audit::record(
                c,
                ctx,
                Event::ok(Some(&p), "user.password_changed").subject("user", user_id),
            )?;
        }
        Ok(())
    })
}
