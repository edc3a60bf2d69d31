//! The patient portal for a booked session: a signed, expiring link (HMAC-SHA256
//! with a key the service makes once and keeps in the database) sent in the
//! booking and move notices. With it the patient sees the booking and confirms or
//! cancels it; an action uses the link up (a reused link is refused), an altered or
//! expired one is refused. Every use is audited.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{cancel_session, GuidanceError, Session};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::backend::is_unique_violation;
use crate::db::schema::{
    app_secrets, guidance_sessions, guidance_settings, patients, pharmacies, portal_link_uses,
    users,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::link::{sign, verify, LinkClaims, LinkError};
use crate::notices::OutboxConfig;

const KEY_NAME: &str = "portal_link_key";

/// Why a portal request is refused.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("{0}")]
    Link(#[from] LinkError),
    #[error("このリンクは使用済みです。最新のお知らせメールのリンクをお使いください (link already used)")]
    Used,
    #[error("{0}")]
    Guidance(#[from] GuidanceError),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// The key that signs portal links: made once (random, 256 bits), then shared by
/// every instance through the database.
pub(crate) fn link_key(c: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Vec<u8>> {
    let read = |c: &mut DbConnection| {
        app_secrets::table
            .find(KEY_NAME)
            .select(app_secrets::value)
            .first::<String>(c)
            .optional()
    };
    if let Some(v) = read(c)? {
        return Ok(hex::decode(v).unwrap_or_default());
    }
    let fresh = hex::encode(crate::auth::random_bytes::<32>());
    let inserted = c.transaction(|c| {
        diesel::insert_into(app_secrets::table)
            .values((
                app_secrets::name.eq(KEY_NAME),
                app_secrets::value.eq(&fresh),
                app_secrets::created_at.eq(now),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(hex::decode(fresh).unwrap_or_default()),
        Err(e) if is_unique_violation(&e) => Ok(read(c)?
            .and_then(|v| hex::decode(v).ok())
            .unwrap_or_default()),
        Err(e) => Err(e),
    }
}

/// A link for `s`, valid until a day after the session.
pub(crate) fn issue(
    c: &mut DbConnection,
    pharmacy_id: &str,
    s: &Session,
    now: NaiveDateTime,
    outbox: &OutboxConfig,
) -> QueryResult<String> {
    let key = link_key(c, now)?;
    let claims = LinkClaims {
        p: pharmacy_id.to_string(),
        s: s.id.clone(),
        a: "manage".into(),
        e: (s.ends_at + Duration::days(1)).and_utc().timestamp(),
        n: uuid::Uuid::new_v4().simple().to_string(),
    };
    Ok(format!(
        "{}/portal/{}",
        outbox.public_url.trim_end_matches('/'),
        sign(&key, &claims)
    ))
}

/// What the patient sees.
#[derive(Debug, Clone, Serialize)]
pub struct PortalView {
    pub pharmacy_name: String,
    pub pharmacy_phone: String,
    pub patient_name: String,
    pub pharmacist_name: String,
    /// Japan time.
    pub starts_local: NaiveDateTime,
    /// booked or cancelled
    pub status: String,
    pub confirmed: bool,
    pub qualification_url: String,
}

fn claims_of(
    c: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<LinkClaims, PortalError> {
    let key = link_key(c, now.naive_utc())?;
    let claims = verify(&key, token, now.timestamp())?;
    let used: i64 = portal_link_uses::table
        .find(&claims.n)
        .count()
        .get_result(c)?;
    if used > 0 {
        return Err(PortalError::Used);
    }
    Ok(claims)
}

fn load_view(c: &mut DbConnection, claims: &LinkClaims) -> Result<PortalView, PortalError> {
    let s: Session = guidance_sessions::table
        .find((&claims.p, &claims.s))
        .select(Session::as_select())
        .first(c)
        .optional()?
        .ok_or(GuidanceError::NotFound)?;
    let (pharmacy_name, pharmacy_phone): (String, String) = pharmacies::table
        .find(&claims.p)
        .select((pharmacies::name, pharmacies::phone))
        .first(c)?;
    let patient_name: String = patients::table
        .find((&claims.p, &s.patient_id))
        .select(patients::name_kanji)
        .first(c)?;
    let pharmacist_name: String = users::table
        .find(&s.pharmacist_id)
        .select(users::display_name)
        .first(c)?;
    let qualification_url = guidance_settings::table
        .find(&claims.p)
        .select(guidance_settings::qualification_url)
        .first::<String>(c)
        .optional()?
        .unwrap_or_default();
    Ok(PortalView {
        pharmacy_name,
        pharmacy_phone: crate::domain::text::format_phone(&pharmacy_phone),
        patient_name,
        pharmacist_name,
        starts_local: s.starts_at + Duration::hours(9),
        status: s.status,
        confirmed: s.confirmed_at.is_some(),
        qualification_url,
    })
}

/// The booking a link shows (audited as a read of patient data).
pub fn view(
    conn: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<PortalView, PortalError> {
    let claims = claims_of(conn, token, now)?;
    let v = load_view(conn, &claims)?;
    let ctx = Ctx::system("patient-link", now);
    audit::record_alone(
        conn,
        &ctx,
        Event::ok(Some(&claims.p), "portal.viewed").subject("guidance_session", &claims.s),
    )?;
    Ok(v)
}

/// Confirms (`cancel` false) or cancels the booking; uses the link up.
pub fn act(
    conn: &mut DbConnection,
    token: &str,
    cancel: bool,
    reason: &str,
    now: DateTime<Utc>,
    outbox: &OutboxConfig,
) -> Result<PortalView, PortalError> {
    let ctx = Ctx::system("patient-link", now);
    write_transaction(conn, |c| -> Result<PortalView, PortalError> {
        let claims = claims_of(c, token, now)?;
        let action = if cancel { "cancel" } else { "confirm" };
        diesel::insert_into(portal_link_uses::table)
            .values((
                portal_link_uses::nonce.eq(&claims.n),
                portal_link_uses::pharmacy_id.eq(&claims.p),
                portal_link_uses::session_id.eq(&claims.s),
                portal_link_uses::action.eq(action),
                portal_link_uses::used_at.eq(now.naive_utc()),
            ))
            .execute(c)?;
        if cancel {
            let why = if reason.trim().is_empty() {
                "患者がリンクから取消"
            } else {
                reason.trim()
            };
            cancel_session(c, &ctx, outbox, &claims.p, &claims.s, why)?;
        } else {
            let n = diesel::update(
                guidance_sessions::table
                    .find((&claims.p, &claims.s))
                    .filter(guidance_sessions::status.eq("booked")),
            )
            .set(guidance_sessions::confirmed_at.eq(Some(now.naive_utc())))
            .execute(c)?;
            if n == 0 {
                return Err(
                    GuidanceError::WrongState("予約中ではありません (not booked)".into()).into(),
                );
            }
            audit::record(
                c,
                &ctx,
                Event::ok(Some(&claims.p), "portal.confirmed")
                    .subject("guidance_session", &claims.s),
            )?;
        }
        load_view(c, &claims)
    })
    .map_err(|e| match e {
        PortalError::Db(d) if is_unique_violation(&d) => PortalError::Used,
        other => other,
    })
}
