//! The patient portal: signed, expiring links (HMAC-SHA256 with a key the service
//! makes once and keeps in the database), no password. A booking link (sent by
//! staff as an invitation) lets the patient read the explanation of online
//! guidance, consent to it and pick a free slot; a manage link (in the booking and
//! move notices) shows the booking and lets the patient confirm, move or cancel it.
//! An action uses the link up (a reused link is refused), an altered or expired one
//! is refused. Every use is audited.

mod act;

pub use act::{act, PortalAction};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{to_local, GuidanceError, Session};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::backend::is_unique_violation;
use crate::db::schema::{
    app_secrets, guidance_sessions, memberships, patients, pharmacies, portal_link_uses,
    prescriptions, users,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::availability::free_slots;
use crate::domain::guidance::consent::{EXPLANATION, EXPLANATION_VERSION};
use crate::domain::guidance::link::{sign, verify, LinkClaims, LinkError};
use crate::domain::role::Permission;
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
        u: String::new(),
        r: String::new(),
    };
    Ok(format!(
        "{}/portal/{}",
        outbox.public_url.trim_end_matches('/'),
        sign(&key, &claims)
    ))
}

/// A free slot the patient may pick.
#[derive(Debug, Clone, Serialize)]
pub struct SlotOption {
    pub pharmacist_id: String,
    pub pharmacist_name: String,
    /// `YYYY-MM-DDTHH:MM`, Japan time.
    pub start: String,
    /// `11月30日(月) 09:20`
    pub label: String,
}

/// How far ahead a patient can pick a slot.
const PICK_DAYS: i64 = 14;
/// At most this many slots are offered.
const PICK_MAX: usize = 60;

/// Free slots of the pharmacy's pharmacists (or one) over the next two weeks.
fn open_slots(
    c: &mut DbConnection,
    pharmacy_id: &str,
    only: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<Vec<SlotOption>> {
    use chrono::Datelike;
    const DAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
    let pharmacists: Vec<(String, String)> = memberships::table
        .inner_join(users::table)
        .filter(memberships::pharmacy_id.eq(pharmacy_id))
        .filter(memberships::role.eq("pharmacist"))
        .filter(users::disabled_at.is_null())
        .select((users::id, users::display_name))
        .load(c)?;
    let rules = super::rules(c, pharmacy_id)?;
    let local_now = to_local(now);
    let mut out = Vec::new();
    for offset in 0..PICK_DAYS {
        let day = local_now.date() + Duration::days(offset);
        for (id, name) in pharmacists
            .iter()
            .filter(|(id, _)| only.is_none_or(|o| o == id))
        {
            let (weekly, exceptions) = super::hours::availability(c, pharmacy_id, id)?;
            let busy = super::hours::busy(c, id, day)?;
            for span in free_slots(day, &weekly, &exceptions, &rules, &busy, local_now) {
                out.push(SlotOption {
                    pharmacist_id: id.clone(),
                    pharmacist_name: name.clone(),
                    start: span.start.format("%Y-%m-%dT%H:%M").to_string(),
                    label: format!(
                        "{}({}) {}",
                        span.start.format("%m月%d日"),
                        DAYS[span.start.weekday().num_days_from_monday() as usize],
                        span.start.format("%H:%M")
                    ),
                });
            }
        }
        if out.len() >= PICK_MAX {
            break;
        }
    }
    out.sort_by(|a, b| a.start.cmp(&b.start));
    out.truncate(PICK_MAX);
    Ok(out)
}

/// Sends the patient a booking link (clerks and pharmacists; audited): valid two
/// weeks, usable once. Returns the link.
pub fn invite(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    patient_id: &str,
    prescription_id: Option<&str>,
) -> Result<String, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "guidance.invited",
        Some(("patient", patient_id)),
    )?;
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| -> Result<String, GuidanceError> {
        let n: i64 = patients::table
            .find((pharmacy_id, patient_id))
            .count()
            .get_result(c)?;
        if n == 0 {
            return Err(GuidanceError::NotFound);
        }
        if let Some(rx) = prescription_id {
            let n: i64 = prescriptions::table
                .find((pharmacy_id, rx))
                .filter(prescriptions::patient_id.eq(patient_id))
                .count()
                .get_result(c)?;
            if n == 0 {
                return Err(super::invalid(
                    "prescription_id",
                    "この患者の処方箋ではありません (not this patient's prescription)",
                ));
            }
        }
        let key = link_key(c, now)?;
        let claims = LinkClaims {
            p: pharmacy_id.to_string(),
            s: String::new(),
            a: "book".into(),
            e: (now + Duration::days(PICK_DAYS)).and_utc().timestamp(),
            n: uuid::Uuid::new_v4().simple().to_string(),
            u: patient_id.to_string(),
            r: prescription_id.unwrap_or_default().to_string(),
        };
        let url = format!(
            "{}/portal/{}",
            outbox.public_url.trim_end_matches('/'),
            sign(&key, &claims)
        );
        let notice = super::notify::invite(c, ctx, outbox, pharmacy_id, patient_id, &url)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.invited")
                .subject("patient", patient_id)
                .detail(format!("booking link; notice {notice}")),
        )?;
        Ok(url)
    })
}

/// What the patient sees.
#[derive(Debug, Clone, Serialize)]
pub struct PortalView {
    /// manage (a booked session) or book (pick a slot)
    pub kind: String,
    /// Free slots to pick (booking) or move to (manage).
    pub slots: Vec<SlotOption>,
    /// The explanation of online guidance to consent to, and its version.
    pub explanation: &'static str,
    pub explanation_version: &'static str,
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

fn pharmacy_facts(
    c: &mut DbConnection,
    pharmacy_id: &str,
) -> QueryResult<(String, String, String)> {
    let (name, phone): (String, String) = pharmacies::table
        .find(pharmacy_id)
        .select((pharmacies::name, pharmacies::phone))
        .first(c)?;
    let qualification_url = super::current_settings(c, pharmacy_id)?.qualification_url;
    Ok((
        name,
        crate::domain::text::format_phone(&phone),
        qualification_url,
    ))
}

fn load_view(
    c: &mut DbConnection,
    claims: &LinkClaims,
    now: NaiveDateTime,
) -> Result<PortalView, PortalError> {
    let (pharmacy_name, pharmacy_phone, qualification_url) = pharmacy_facts(c, &claims.p)?;
    if claims.a == "book" {
        let patient_name: String = patients::table
            .find((&claims.p, &claims.u))
            .select(patients::name_kanji)
            .first(c)
            .optional()?
            .ok_or(GuidanceError::NotFound)?;
        return Ok(PortalView {
            kind: "book".into(),
            slots: open_slots(c, &claims.p, None, now)?,
            explanation: EXPLANATION,
            explanation_version: EXPLANATION_VERSION,
            pharmacy_name,
            pharmacy_phone,
            patient_name,
            pharmacist_name: String::new(),
            starts_local: to_local(now),
            status: "new".into(),
            confirmed: false,
            qualification_url,
        });
    }
    let s: Session = guidance_sessions::table
        .find((&claims.p, &claims.s))
        .select(Session::as_select())
        .first(c)
        .optional()?
        .ok_or(GuidanceError::NotFound)?;
    let patient_name: String = patients::table
        .find((&claims.p, &s.patient_id))
        .select(patients::name_kanji)
        .first(c)?;
    let pharmacist_name: String = users::table
        .find(&s.pharmacist_id)
        .select(users::display_name)
        .first(c)?;
    let slots = if s.status == "booked" && s.started_at.is_none() {
        open_slots(c, &claims.p, Some(&s.pharmacist_id), now)?
    } else {
        Vec::new()
    };
    Ok(PortalView {
        kind: "manage".into(),
        slots,
        explanation: EXPLANATION,
        explanation_version: EXPLANATION_VERSION,
        pharmacy_name,
        pharmacy_phone,
        patient_name,
        pharmacist_name,
        starts_local: to_local(s.starts_at),
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
    let v = load_view(conn, &claims, now.naive_utc())?;
    let ctx = Ctx::system("patient-link", now);
    let event = Event::ok(Some(&claims.p), "portal.viewed");
    audit::record_alone(
        conn,
        &ctx,
        if claims.a == "book" {
            event.subject("patient", &claims.u)
        } else {
            event.subject("guidance_session", &claims.s)
        },
    )?;
    Ok(v)
}
