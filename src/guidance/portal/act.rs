//! What the patient does with a link (confirm, cancel, move, book), in one
//! transaction with the link's use, so a link acts once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{claims_of, load_view, PortalError, PortalView};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::backend::is_unique_violation;
use crate::db::schema::{guidance_sessions, portal_link_uses};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::consent::EXPLANATION_VERSION;
use crate::domain::guidance::reminders::ReminderPolicy;
use crate::guidance::{book_checked, cancel_session, move_checked, BookingInput, GuidanceError};
use crate::notices::OutboxConfig;

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
                crate::guidance::consents::record_from_patient(c, &ctx, &claims.p, &session)?;
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
