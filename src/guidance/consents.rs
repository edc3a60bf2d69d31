//! The patient's consents for online guidance: to online guidance itself (with the
//! version of the explanation of its risks that was shown), and to the pharmacy
//! viewing their qualification and drug information (居宅同意取得型), which runs from
//! the consent until the end of the booked guidance day (Japan time), moves when the
//! booking moves and ends when it is cancelled.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{invalid, load_session, to_local, to_utc, GuidanceError, Session};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{guidance_consents, patients};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::consent::{
    refusal, window, ConsentKind, ConsentWindow, EXPLANATION_VERSION,
};
use crate::domain::role::Permission;

/// A consent as stored (times UTC).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = guidance_consents)]
pub struct Consent {
    pub id: String,
    pub patient_id: String,
    /// online_guidance or qualification_viewing
    pub kind: String,
    pub session_id: Option<String>,
    pub text_version: String,
    #[schema(value_type = String, format = DateTime)]
    pub given_at: NaiveDateTime,
    /// Viewing consents: the end of the guidance day (Japan), in UTC.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<NaiveDateTime>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<NaiveDateTime>,
    pub ended_reason: Option<String>,
    /// When the national services' consented list showed it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confirmed_at: Option<NaiveDateTime>,
    pub recorded_by: String,
}

impl Consent {
    /// The window of a viewing consent.
    pub fn window(&self) -> Option<ConsentWindow> {
        self.valid_until.map(|until| ConsentWindow {
            from: self.given_at,
            until,
        })
    }

    /// Why it cannot be used at `now` (None: it can).
    pub fn refusal(&self, now: NaiveDateTime) -> Option<String> {
        refusal(self.window(), self.ended_at.is_some(), now)
    }
}

/// A consent as submitted.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct ConsentInput {
    /// online_guidance or qualification_viewing
    pub kind: String,
    /// The booking a viewing consent follows (required for it).
    pub session_id: Option<String>,
    /// The explanation version shown (online_guidance; must be the current one).
    pub text_version: Option<String>,
    /// The explanation of risks was shown to the patient (online_guidance).
    pub explanation_shown: bool,
    /// When the patient consented, Japan time `YYYY-MM-DDTHH:MM` (default now).
    pub given_at: Option<String>,
}

/// Records a consent (clerks and pharmacists; audited).
pub fn record(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
    input: &ConsentInput,
) -> Result<Consent, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "guidance.consent_recorded",
        Some(("patient", patient_id)),
    )?;
    let kind = ConsentKind::parse(&input.kind).ok_or_else(|| {
        invalid(
            "kind",
            "online_guidance または qualification_viewing (online_guidance or qualification_viewing)",
        )
    })?;
    let now = ctx.now.naive_utc();
    let given_at = match input.given_at.as_deref().map(str::trim) {
        None | Some("") => now,
        Some(s) => NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
            .map(to_utc)
            .map_err(|_| invalid("given_at", "YYYY-MM-DDTHH:MM（日本時間）"))?,
    };
    if given_at > now {
        return Err(invalid("given_at", "未来の日時です (in the future)"));
    }
    write_transaction(conn, |c| -> Result<Consent, GuidanceError> {
        let n: i64 = patients::table
            .find((pharmacy_id, patient_id))
            .count()
            .get_result(c)?;
        if n == 0 {
            return Err(GuidanceError::NotFound);
        }
        let (session_id, text_version, valid_until) = match kind {
            ConsentKind::OnlineGuidance => {
                if !input.explanation_shown {
                    return Err(invalid(
                        "explanation_shown",
                        "リスク等の説明を表示してから同意を記録してください (show the explanation first)",
                    ));
                }
                let v = input.text_version.as_deref().unwrap_or_default().trim();
                if v != EXPLANATION_VERSION {
                    return Err(invalid(
                        "text_version",
                        format!("現在の説明文は {EXPLANATION_VERSION} です (the current explanation is {EXPLANATION_VERSION})"),
                    ));
                }
                (input.session_id.clone(), v.to_string(), None)
            }
            ConsentKind::QualificationViewing => {
                let sid = input.session_id.as_deref().unwrap_or_default();
                let s: Session =
                    load_session(c, pharmacy_id, sid)
                        .optional()?
                        .ok_or_else(|| {
                            invalid(
                                "session_id",
                                "閲覧同意は予約に紐づけてください (a booked session is required)",
                            )
                        })?;
                if s.patient_id != patient_id || s.status != "booked" {
                    return Err(invalid(
                        "session_id",
                        "この患者の予約中のセッションではありません (not this patient's booked session)",
                    ));
                }
                let until = window(given_at, to_local(s.starts_at).date()).until;
                if until < given_at {
                    return Err(invalid(
                        "given_at",
                        "服薬指導日より後の同意です (after the guidance day)",
                    ));
                }
                let open: i64 = guidance_consents::table
                    .filter(guidance_consents::pharmacy_id.eq(pharmacy_id))
                    .filter(guidance_consents::session_id.eq(sid))
                    .filter(guidance_consents::kind.eq(kind.as_str()))
                    .filter(guidance_consents::ended_at.is_null())
                    .count()
                    .get_result(c)?;
                if open > 0 {
                    return Err(GuidanceError::WrongState(
                        "この予約の閲覧同意は記録済みです (already recorded for this booking)"
                            .into(),
                    ));
                }
                (Some(sid.to_string()), String::new(), Some(until))
            }
        };
        let id = uuid::Uuid::now_v7().to_string();
        diesel::insert_into(guidance_consents::table)
            .values((
                guidance_consents::pharmacy_id.eq(pharmacy_id),
                guidance_consents::id.eq(&id),
                guidance_consents::patient_id.eq(patient_id),
                guidance_consents::kind.eq(kind.as_str()),
                guidance_consents::session_id.eq(&session_id),
                guidance_consents::text_version.eq(&text_version),
                guidance_consents::given_at.eq(given_at),
                guidance_consents::valid_until.eq(valid_until),
                guidance_consents::recorded_by.eq(&ctx.actor.name),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.consent_recorded")
                .subject("patient", patient_id)
                .detail(format!(
                    "{}{}{}",
                    kind.as_str(),
                    session_id
                        .map(|s| format!(" session {s}"))
                        .unwrap_or_default(),
                    valid_until
                        .map(|u| format!(" until {} JST", to_local(u)))
                        .unwrap_or_default()
                )),
        )?;
        Ok(guidance_consents::table
            .find((pharmacy_id, &id))
            .select(Consent::as_select())
            .first(c)?)
    })
}

/// The patient consents to online guidance on the booking page of the portal,
/// after its explanation (current version), inside the booking's transaction.
pub(crate) fn record_from_patient(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    session: &Session,
) -> QueryResult<()> {
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(guidance_consents::table)
        .values((
            guidance_consents::pharmacy_id.eq(pharmacy_id),
            guidance_consents::id.eq(&id),
            guidance_consents::patient_id.eq(&session.patient_id),
            guidance_consents::kind.eq(ConsentKind::OnlineGuidance.as_str()),
            guidance_consents::session_id.eq(Some(&session.id)),
            guidance_consents::text_version.eq(EXPLANATION_VERSION),
            guidance_consents::given_at.eq(ctx.now.naive_utc()),
            guidance_consents::recorded_by.eq(&ctx.actor.name),
        ))
        .execute(c)?;
    audit::record(
        c,
        ctx,
        Event::ok(Some(pharmacy_id), "guidance.consent_recorded")
            .subject("patient", &session.patient_id)
            .detail(format!(
                "online_guidance {EXPLANATION_VERSION} by the patient (portal), session {}",
                session.id
            )),
    )
}

/// Moves the open viewing consents of a session to its (new) guidance day, inside
/// the caller's transaction. Returns how many moved.
pub(crate) fn follow_booking(
    c: &mut DbConnection,
    pharmacy_id: &str,
    session: &Session,
    _now: NaiveDateTime,
) -> QueryResult<usize> {
    let open: Vec<Consent> = guidance_consents::table
        .filter(guidance_consents::pharmacy_id.eq(pharmacy_id))
        .filter(guidance_consents::session_id.eq(&session.id))
        .filter(guidance_consents::kind.eq(ConsentKind::QualificationViewing.as_str()))
        .filter(guidance_consents::ended_at.is_null())
        .select(Consent::as_select())
        .load(c)?;
    let day = to_local(session.starts_at).date();
    for k in &open {
        diesel::update(guidance_consents::table.find((pharmacy_id, &k.id)))
            .set(guidance_consents::valid_until.eq(Some(window(k.given_at, day).until)))
            .execute(c)?;
    }
    Ok(open.len())
}

/// Ends the open consents that follow a cancelled session. Returns how many.
pub(crate) fn end_with_booking(
    c: &mut DbConnection,
    pharmacy_id: &str,
    session_id: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        guidance_consents::table
            .filter(guidance_consents::pharmacy_id.eq(pharmacy_id))
            .filter(guidance_consents::session_id.eq(session_id))
            .filter(guidance_consents::kind.eq(ConsentKind::QualificationViewing.as_str()))
            .filter(guidance_consents::ended_at.is_null()),
    )
    .set((
        guidance_consents::ended_at.eq(Some(now)),
        guidance_consents::ended_reason.eq(Some(format!("予約取消: {reason}"))),
    ))
    .execute(c)
}

/// The patient's consents, newest first (no audit: callers audit their read).
pub(crate) fn of_patient(
    c: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
) -> QueryResult<Vec<Consent>> {
    guidance_consents::table
        .filter(guidance_consents::pharmacy_id.eq(pharmacy_id))
        .filter(guidance_consents::patient_id.eq(patient_id))
        .order(guidance_consents::given_at.desc())
        .select(Consent::as_select())
        .load(c)
}

/// The viewing consent usable at `now`, or why none is.
pub(crate) fn usable_viewing(
    c: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Result<Consent, String>> {
    let all: Vec<Consent> = of_patient(c, pharmacy_id, patient_id)?
        .into_iter()
        .filter(|k| k.kind == ConsentKind::QualificationViewing.as_str())
        .collect();
    if let Some(ok) = all.iter().find(|k| k.refusal(now).is_none()) {
        return Ok(Ok(ok.clone()));
    }
    Ok(Err(match all.first() {
        Some(latest) => latest.refusal(now).unwrap_or_default(),
        None => refusal(None, false, now).unwrap_or_default(),
    }))
}

/// Whether the patient has consented to online guidance (the explanation shown).
pub(crate) fn has_guidance_consent(
    c: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
) -> QueryResult<bool> {
    let n: i64 = guidance_consents::table
        .filter(guidance_consents::pharmacy_id.eq(pharmacy_id))
        .filter(guidance_consents::patient_id.eq(patient_id))
        .filter(guidance_consents::kind.eq(ConsentKind::OnlineGuidance.as_str()))
        .filter(guidance_consents::ended_at.is_null())
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// The patient's consents (audited read).
pub fn list(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    patient_id: &str,
) -> Result<Vec<Consent>, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "guidance.consents_read",
        Some(("patient", patient_id)),
    )?;
    let rows = of_patient(conn, pharmacy_id, patient_id)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "guidance.consents_read").subject("patient", patient_id),
    )?;
    Ok(rows)
}
