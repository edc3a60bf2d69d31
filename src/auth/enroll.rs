//! Enrolling a TOTP second factor: a new secret is shown (otpauth URI and QR code),
//! confirmed with a code from the app, and answered with ten single-use recovery
//! codes shown once. A session that had to enrol becomes fully signed in, with a
//! new id.

use diesel::prelude::*;

use super::login::{Issued, LoginError, LoginPolicy};
use super::session::{self, LoadedSession, Stage};
use super::totp;
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{recovery_codes, users};
use crate::db::{write_transaction, DbConnection};

/// What the enrolment page shows.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// Result of a confirmed enrolment.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub recovery_codes: Vec<String>,
    /// Set when the session was replaced (it had to enrol before anything else).
    pub new_session: Option<Issued>,
}

/// Starts (or restarts) enrolment for the signed-in user; returns the material to show.
pub fn start(
    conn: &mut DbConnection,
    ctx: &Ctx,
    issuer: &str,
    sess: &LoadedSession,
) -> Result<Enrolment, LoginError> {
    let secret = match &sess.pending_totp_secret {
        Some(s) => s.clone(),
        None => {
            let s = totp::new_secret();
            write_transaction(conn, |c| {
                session::set_pending_secret(c, &sess.id_hash, Some(&s))?;
                audit::record(
                    c,
                    ctx,
                    Event::ok(first_pharmacy(sess), "auth.totp_enrolment_started")
                        .subject("user", &sess.user_id),
                )
            })?;
            s
        }
    };
    let otpauth_uri =
        totp::otpauth_uri(&secret, issuer, &sess.username).map_err(LoginError::SecondFactor)?;
    Ok(Enrolment {
        qr_svg: totp::qr_svg(&otpauth_uri),
        secret,
        otpauth_uri,
    })
}

fn first_pharmacy(sess: &LoadedSession) -> Option<&str> {
    sess.memberships.first().map(|m| m.pharmacy_id.as_str())
}

/// Confirms enrolment with a code from the authenticator app.
pub fn confirm(
    conn: &mut DbConnection,
    policy: LoginPolicy,
    ctx: &Ctx,
    sess: &LoadedSession,
    code: &str,
) -> Result<Enrolled, LoginError> {
    let Some(secret) = sess.pending_totp_secret.clone() else {
        return Err(LoginError::SecondFactor(totp::TotpError::BadSecret));
    };
    let step = match totp::verify(&secret, code, ctx.now.timestamp().max(0) as u64, None) {
        Ok(step) => step,
        Err(e) => {
            write_transaction(conn, |c| {
                audit::record(
                    c,
                    ctx,
                    Event::denied(first_pharmacy(sess), "auth.totp_enrolled")
                        .subject("user", &sess.user_id)
                        .detail("wrong confirmation code"),
                )
            })?;
            return Err(LoginError::SecondFactor(e));
        }
    };
    let codes = totp::new_recovery_codes();
    write_transaction(conn, |c| {
        diesel::update(users::table.find(&sess.user_id))
            .set((
                users::totp_secret.eq(Some(&secret)),
                users::totp_enabled_at.eq(Some(ctx.now.naive_utc())),
                users::totp_last_step.eq(Some(step)),
                users::updated_at.eq(ctx.now.naive_utc()),
            ))
            .execute(c)?;
        replace_recovery_codes(c, ctx, &sess.user_id, &codes)?;
        let new_session = if sess.stage == Stage::Active {
            session::set_pending_secret(c, &sess.id_hash, None)?;
            None
        } else {
            let (token, csrf_token) = session::advance(
                c,
                sess,
                Stage::Active,
                &ctx.client_addr,
                ctx.now,
                policy.limits,
            )?;
            Some(Issued {
                token,
                csrf_token,
                stage: Stage::Active,
            })
        };
        for m in &sess.memberships {
            audit::record(
                c,
                ctx,
                Event::ok(Some(&m.pharmacy_id), "auth.totp_enrolled")
                    .subject("user", &sess.user_id),
            )?;
        }
        Ok(Enrolled {
            recovery_codes: codes.clone(),
            new_session,
        })
    })
}

/// Replaces a user's recovery codes (stored as SHA-256 hashes).
pub fn replace_recovery_codes(
    conn: &mut DbConnection,
    ctx: &Ctx,
    user_id: &str,
    codes: &[String],
) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    for code in codes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(super::token_hash(code)),
                recovery_codes::created_at.eq(ctx.now.naive_utc()),
            ))
            .execute(conn)?;
    }
    Ok(())
}
