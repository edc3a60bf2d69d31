//! Console pages for online guidance: the day view, booking (or sending the
//! patient a booking link), the session screen where consents are recorded, the
//! session is held and the record signed, and the pharmacy's settings and hours.
//! Refusals are shown on the page they came from.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};

use super::see_other;
use crate::domain::guidance::consent::{EXPLANATION, EXPLANATION_VERSION};
use crate::domain::guidance::record::RecordInput;
use crate::domain::role::Permission;
use crate::error::{AppError, PageError};
use crate::guidance::conduct::{self, FinishInput, StartInput};
use crate::guidance::consents::{self, ConsentInput};
use crate::guidance::{self, qualification, records, views, BookingInput, GuidanceError};
use crate::web::extract::StaffPage;
use crate::web::guidance_pages::{GuidanceBookPage, GuidanceDayPage, GuidanceSessionPage};
use crate::web::pages::{html, Layout};
use crate::web::AppState;

type Form = web::Form<HashMap<String, String>>;

fn field(f: &HashMap<String, String>, k: &str) -> String {
    f.get(k).cloned().unwrap_or_default()
}

fn jst_today(state: &AppState) -> chrono::NaiveDate {
    crate::context::jst(state.clock.now().naive_utc()).date_naive()
}

/// Shown on the page, or passed on as an error page.
pub(super) fn shown(e: GuidanceError) -> Result<String, PageError> {
    match e {
        GuidanceError::Db(_) | GuidanceError::Forbidden(_) | GuidanceError::NotFound => {
            Err(AppError::from(e).into())
        }
        other => Ok(AppError::from(other).public_message()),
    }
}

/// The sessions of a day (`?date=`, `?pharmacist=`).
pub async fn day(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let date = q
        .get("date")
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or_else(|| jst_today(&state));
    let who = q.get("pharmacist").cloned().filter(|w| !w.is_empty());
    let (ctx, p2, w2) = (s.ctx.clone(), pid.clone(), who.clone());
    let (lines, pharmacists) = state
        .db(move |conn| {
            let lines = views::day(conn, &ctx, &p2, date, w2.as_deref())?;
            Ok::<_, AppError>((lines, guidance::pharmacists(conn, &p2)?))
        })
        .await?;
    Ok(html(&GuidanceDayPage {
        layout: Layout::for_session("服薬指導", &s.session, Some(&pid), state.demo_mode),
        pharmacy_id: pid,
        date: date.to_string(),
        pharmacist_id: who.unwrap_or_default(),
        pharmacists,
        lines,
    }))
}

#[allow(clippy::too_many_arguments)]
async fn book_page(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    patient: String,
    prescription: String,
    pharmacist: String,
    date: String,
    error: Option<String>,
    invited: bool,
) -> Result<HttpResponse, PageError> {
    let (ctx, p2, pat, ph) = (
        s.ctx.clone(),
        pid.to_string(),
        patient.clone(),
        pharmacist.clone(),
    );
    let day = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").ok();
    let (patient_name, pharmacists, slots) = state
        .db(move |conn| {
            let p = crate::patients::get(conn, &ctx, &p2, &pat)?;
            let slots = match (day, ph.is_empty()) {
                (Some(d), false) => guidance::slots(conn, &ctx, &p2, &ph, d)?,
                _ => Vec::new(),
            };
            Ok::<_, AppError>((p.name_kanji, guidance::pharmacists(conn, &p2)?, slots))
        })
        .await?;
    Ok(html(&GuidanceBookPage {
        layout: Layout::for_session("服薬指導の予約", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        patient_id: patient,
        patient_name,
        prescription_id: prescription,
        pharmacist_id: pharmacist,
        pharmacists,
        date,
        slots,
        error,
        invited,
    }))
}

/// The booking screen (`?patient=`, `?prescription=`, `?pharmacist=`, `?date=`).
pub async fn new_booking(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let q = q.into_inner();
    let date = q
        .get("date")
        .cloned()
        .unwrap_or_else(|| jst_today(&state).to_string());
    book_page(
        &state,
        &s,
        &pid,
        field(&q, "patient"),
        field(&q, "prescription"),
        field(&q, "pharmacist"),
        date,
        None,
        q.contains_key("invited"),
    )
    .await
}

/// Books the chosen slot, or sends the patient a booking link (`action=invite`).
pub async fn book(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let f = form.into_inner();
    let rx = Some(field(&f, "prescription_id")).filter(|r| !r.is_empty());
    let (ctx, p2, outbox) = (s.ctx.clone(), pid.clone(), state.outbox.clone());
    if f.get("action").is_some_and(|a| a == "invite") {
        let (patient, rx2) = (field(&f, "patient_id"), rx.clone());
        let outcome = state
            .db(move |conn| {
                Ok::<_, AppError>(guidance::portal::invite(
                    conn,
                    &ctx,
                    &outbox,
                    &p2,
                    &patient,
                    rx2.as_deref(),
                ))
            })
            .await?;
        return match outcome {
            Ok(_) => Ok(see_other(&format!(
                "/p/{pid}/guidance/new?patient={}&prescription={}&invited=1",
                field(&f, "patient_id"),
                rx.unwrap_or_default()
            ))),
            Err(e) => {
                let msg = shown(e)?;
                book_page(
                    &state,
                    &s,
                    &pid,
                    field(&f, "patient_id"),
                    field(&f, "prescription_id"),
                    field(&f, "pharmacist_id"),
                    field(&f, "date"),
                    Some(msg),
                    false,
                )
                .await
            }
        };
    }
    let input = BookingInput {
        pharmacist_id: field(&f, "pharmacist_id"),
        patient_id: field(&f, "patient_id"),
        prescription_id: rx,
        start: field(&f, "start"),
    };
    let reminders = state.settings.raw.guidance.reminders();
    let outcome = state
        .db(move |conn| {
            Ok::<_, AppError>(guidance::book(conn, &ctx, &outbox, &reminders, &p2, &input))
        })
        .await?;
    match outcome {
        Ok(session) => Ok(see_other(&format!("/p/{pid}/guidance/{}", session.id))),
        Err(e) => {
            let msg = shown(e)?;
            book_page(
                &state,
                &s,
                &pid,
                field(&f, "patient_id"),
                field(&f, "prescription_id"),
                field(&f, "pharmacist_id"),
                field(&f, "date"),
                Some(msg),
                false,
            )
            .await
        }
    }
}

async fn session_page(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    id: &str,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (ctx, p2, id2) = (s.ctx.clone(), pid.to_string(), id.to_string());
    let d = state
        .db(move |conn| views::detail(conn, &ctx, &p2, &id2))
        .await?;
    Ok(html(&GuidanceSessionPage {
        layout: Layout::for_session("服薬指導セッション", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        can_conduct: s.ctx.actor.require(pid, Permission::Dispense).is_ok(),
        identity_kinds: GuidanceSessionPage::kinds(),
        explanation: EXPLANATION,
        explanation_version: EXPLANATION_VERSION,
        d,
        error,
    }))
}

/// The session screen.
pub async fn session(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    session_page(&state, &s, &pid, &id, None).await
}

/// One action on the session screen: consent, viewing, start, finish, review,
/// record, drug-info, move or cancel.
pub async fn session_action(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String, String)>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let (pid, id, action) = path.into_inner();
    let f = form.into_inner();
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), id.clone());
    let (outbox, reminders, gw, now) = (
        state.outbox.clone(),
        state.settings.raw.guidance.reminders(),
        state.gateway(),
        state.clock.now(),
    );
    let outcome = state
        .db(move |conn| {
            let r: Result<(), GuidanceError> = match action.as_str() {
                "consent" | "viewing" => {
                    let patient = field(&f, "patient_id");
                    let input = if action == "consent" {
                        ConsentInput {
                            kind: "online_guidance".into(),
                            session_id: Some(id2.clone()),
                            text_version: Some(field(&f, "text_version")),
                            explanation_shown: f.contains_key("explanation_shown"),
                            given_at: None,
                        }
                    } else {
                        ConsentInput {
                            kind: "qualification_viewing".into(),
                            session_id: Some(id2.clone()),
                            text_version: None,
                            explanation_shown: false,
                            given_at: Some(field(&f, "given_at")),
                        }
                    };
                    consents::record(conn, &ctx, &p2, &patient, &input).map(|_| ())
                }
                "start" => conduct::start(
                    conn,
                    &ctx,
                    &p2,
                    &id2,
                    &StartInput {
                        identity_check: field(&f, "identity_check"),
                        attendees: field(&f, "attendees"),
                        attendees_consented: f.contains_key("attendees_consented"),
                        meeting_url: field(&f, "meeting_url"),
                    },
                )
                .map(|_| ()),
                "finish" => conduct::finish(
                    conn,
                    &ctx,
                    &p2,
                    &id2,
                    &FinishInput {
                        outcome: field(&f, "outcome"),
                        fallback: Some(field(&f, "fallback")),
                        note: field(&f, "note"),
                    },
                )
                .map(|_| ()),
                "review" => conduct::review(conn, &ctx, &p2, &id2, &field(&f, "note")).map(|_| ()),
                "record" => records::sign(
                    conn,
                    &ctx,
                    &p2,
                    &id2,
                    &RecordInput {
                        subjective: field(&f, "subjective"),
                        objective: field(&f, "objective"),
                        assessment: field(&f, "assessment"),
                        plan: field(&f, "plan"),
                        topics: field(&f, "topics").lines().map(str::to_string).collect(),
                        adherence: field(&f, "adherence"),
                        leftover: field(&f, "leftover"),
                        side_effects: field(&f, "side_effects"),
                        follow_up_on: Some(field(&f, "follow_up_on")),
                        correction_reason: Some(field(&f, "correction_reason")),
                    },
                )
                .map(|_| ()),
                "drug-info" => qualification::fetch_drug_information(
                    conn,
                    &ctx,
                    gw.as_ref(),
                    &p2,
                    &field(&f, "patient_id"),
                    now,
                )
                .map(|_| ()),
                "move" => guidance::reschedule(
                    conn,
                    &ctx,
                    &outbox,
                    &reminders,
                    &p2,
                    &id2,
                    &field(&f, "start"),
                    &field(&f, "reason"),
                )
                .map(|_| ()),
                "cancel" => guidance::cancel(conn, &ctx, &outbox, &p2, &id2, &field(&f, "reason"))
                    .map(|_| ()),
                _ => Err(GuidanceError::NotFound),
            };
            Ok::<_, AppError>(r)
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other(&format!("/p/{pid}/guidance/{id}"))),
        Err(e) => {
            let msg = shown(e)?;
            session_page(&state, &s, &pid, &id, Some(msg)).await
        }
    }
}
