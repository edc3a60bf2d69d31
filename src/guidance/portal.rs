//! The patient portal: signed, expiring links (HMAC-SHA256 with a key the service
//! makes once and keeps in the database), no password. A booking link (sent by
//! staff as an invitation) lets the patient read the explanation of online
//! guidance, consent to it and pick a free slot; a manage link (in the booking and
//! move notices) shows the booking and lets the patient confirm, move or cancel it.
//! An action uses the link up (a reused link is refused), an altered or expired one
//! is refused. Every use is audited.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{
    book_checked, cancel_session, move_checked, to_local, BookingInput, GuidanceError, Session,
};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::backend::is_unique_violation;
use crate::db::schema::{
    app_secrets, guidance_sessions, guidance_settings, memberships, patients, pharmacies,
    portal_link_uses, prescriptions, users,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::availability::free_slots;
use crate::domain::guidance::consent::{EXPLANATION, EXPLANATION_VERSION};
use crate::domain::guidance::link::{sign, verify, LinkClaims, LinkError};
use crate::domain::guidance::reminders::ReminderPolicy;
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
    let qualification_url = guidance_settings::table
        .find(pharmacy_id)
        .select(guidance_settings::qualification_url)
        .first::<String>(c)
        .optional()?
        .unwrap_or_default();
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

/// What the patient does with a link.
#[derive(Debug, Clone)]
pub enum PortalAction {
    Confirm,
    Cancel {
        reason: String,
    },
    Move {
        start: String,
        reason: String,
    },
    /// Book a slot (booking links), consenting to online guidance after reading
    /// the explanation of this version.
    Book {
        pharmacist_id: String,
        start: String,
        consent_version: Option<String>,
    },
}

impl PortalAction {
    fn name(&self) -> &'static str {
        match self {
            PortalAction::Confirm => "confirm",
            PortalAction::Cancel { .. } => "cancel",
            PortalAction::Move { .. } => "move",
            PortalAction::Book { .. } => "book",
        }
    }
}

/// Does `action` with the link and uses the link up.
pub fn act(
    conn: &mut DbConnection,
    token: &str,
    action: &PortalAction,
    now: DateTime<Utc>,
    outbox: &OutboxConfig,
    reminders: &ReminderPolicy,
) -> Result<PortalView, PortalError> {
    let ctx = Ctx::system("patient-link", now);
    write_transaction(conn, |c| -> Result<PortalView, PortalError> {
        let mut claims = claims_of(c, token, now)?;
        let allowed = match claims.a.as_str() {
            "book" => matches!(action, PortalAction::Book { .. }),
            _ => !matches!(action, PortalAction::Book { .. }),
        };
        if !allowed {
            return Err(GuidanceError::WrongState(
                "このリンクではできません (not with this link)".into(),
            )
            .into());
        }
        diesel::insert_into(portal_link_uses::table)
            .values((
                portal_link_uses::nonce.eq(&claims.n),
                portal_link_uses::pharmacy_id.eq(&claims.p),
                portal_link_uses::session_id.eq(&claims.s),
                portal_link_uses::action.eq(action.name()),
                portal_link_uses::used_at.eq(now.naive_utc()),
            ))
            .execute(c)?;
        match action {
            PortalAction::Cancel { reason } => {
                let why = if reason.trim().is_empty() {
                    "患者がリンクから取消"
                } else {
                    reason.trim()
                };
                cancel_session(c, &ctx, outbox, &claims.p, &claims.s, why)?;
            }
            PortalAction::Move { start, reason } => {
                let why = format!(
                    "患者がリンクから変更{}",
                    if reason.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", reason.trim())
                    }
                );
                move_checked(
                    c, &ctx, outbox, reminders, &claims.p, &claims.s, start, &why,
                )?;
            }
            PortalAction::Confirm => {
                let n = diesel::update(
                    guidance_sessions::table
                        .find((&claims.p, &claims.s))
                        .filter(guidance_sessions::status.eq("booked")),
                )
                .set(guidance_sessions::confirmed_at.eq(Some(now.naive_utc())))
                .execute(c)?;
                if n == 0 {
                    return Err(GuidanceError::WrongState(
                        "予約中ではありません (not booked)".into(),
                    )
                    .into());
                }
                audit::record(
                    c,
                    &ctx,
                    Event::ok(Some(&claims.p), "portal.confirmed")
                        .subject("guidance_session", &claims.s),
                )?;
            }
            PortalAction::Book {
                pharmacist_id,
                start,
                consent_version,
            } => {
                if consent_version.as_deref() != Some(EXPLANATION_VERSION) {
                    return Err(GuidanceError::Invalid({
                        let mut f = crate::domain::fields::FieldErrors::new();
                        f.add(
                            "consent",
                            "説明をお読みのうえ、同意にチェックしてください (consent required)",
                        );
                        f
                    })
                    .into());
                }
                let session = book_checked(
                    c,
                    &ctx,
                    outbox,
                    reminders,
                    &claims.p,
                    &BookingInput {
                        pharmacist_id: pharmacist_id.clone(),
                        patient_id: claims.u.clone(),
                        prescription_id: (!claims.r.is_empty()).then(|| claims.r.clone()),
                        start: start.clone(),
                    },
                )?;
                super::consents::record_from_patient(c, &ctx, &claims.p, &session)?;
                // The page now shows the booking.
                claims.a = "manage".into();
                claims.s = session.id;
            }
        }
        load_view(c, &claims, now.naive_utc())
    })
    .map_err(|e| match e {
        PortalError::Db(d) if is_unique_violation(&d) => PortalError::Used,
        other => other,
    })
}
