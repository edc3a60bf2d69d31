//! Console pages for notices: the list (with what needs staff), a notice's
//! history, resend, "contacted by phone", and the test notice.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::see_other;
use crate::domain::role::Permission;
use crate::error::{AppError, PageError};
use crate::notices;
use crate::routes::api::notices::NoticeQuery;
use crate::web::extract::StaffPage;
use crate::web::pages::{
    fmt_time, html, notice_status_label, AttemptLine, Layout, NoticeLine, NoticePage, NoticesPage,
    NOTICE_STATUSES,
};
use crate::web::AppState;

fn recipient_text(n: &notices::Notification) -> String {
    match (&n.recipient_address, n.recipient_kind.as_str()) {
        (Some(a), _) => a.clone(),
        (None, "patient") => "（メールアドレスなし）".into(),
        (None, _) => String::new(),
    }
}

async fn list_page(
    state: &AppState,
    s: &StaffPage,
    pid: String,
    q: NoticeQuery,
    test_error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let layout = Layout::for_session("お知らせメール", &s.session, Some(&pid), state.demo_mode);
    let f = q.filter();
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    let rows = state
        .db(move |conn| notices::list(conn, &ctx, &p2, &f))
        .await?;
    let tz = state.settings.time_zone;
    let can_test = s
        .ctx
        .actor
        .require(&pid, Permission::ManagePharmacy)
        .is_ok();
    let mut resp = html(&NoticesPage {
        layout,
        rows: rows
            .into_iter()
            .map(|n| NoticeLine {
                created: fmt_time(n.created_at, tz),
                recipient: recipient_text(&n),
                status_label: notice_status_label(&n.status),
                last_error: n.last_error.clone().unwrap_or_default(),
                id: n.id,
                kind: n.kind,
                subject: n.subject,
                status: n.status,
                attempts: n.attempts,
            })
            .collect(),
        pharmacy_id: pid,
        statuses: NOTICE_STATUSES
            .iter()
            .map(|s| (*s, notice_status_label(s)))
            .collect(),
        q_status: q.status.unwrap_or_default(),
        attention: q.attention.unwrap_or(false),
        can_test,
        test_error: test_error.clone(),
    });
    if test_error.is_some() {
        *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// The notice list.
pub async fn list(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    list_page(&state, &s, path.into_inner(), q.into_inner(), None).await
}

/// One notice and its history.
pub async fn detail(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let layout = Layout::for_session("お知らせ", &s.session, Some(&pid), state.demo_mode);
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    let d = state
        .db(move |conn| notices::get(conn, &ctx, &p2, &id))
        .await?;
    let tz = state.settings.time_zone;
    let n = d.notification;
    let can_resend = matches!(n.status.as_str(), "failed" | "dead")
        && s.ctx.actor.require(&pid, Permission::ResendNotices).is_ok();
    let can_contact = notices::ATTENTION.contains(&n.status.as_str())
        && s.ctx.actor.require(&pid, Permission::WritePatients).is_ok();
    Ok(html(&NoticePage {
        layout,
        status_label: notice_status_label(&n.status),
        recipient: recipient_text(&n),
        patient_link: (n.recipient_kind == "patient")
            .then(|| n.recipient_id.clone())
            .flatten()
            .map(|p| format!("/p/{pid}/patients/{p}")),
        created: fmt_time(n.created_at, tz),
        sent: n.sent_at.map(|t| fmt_time(t, tz)).unwrap_or_default(),
        next_attempt: n
            .next_attempt_at
            .map(|t| fmt_time(t, tz))
            .unwrap_or_default(),
        attachments: d.attachments,
        attempts: d
            .attempts
            .into_iter()
            .map(|a| AttemptLine {
                attempt: a.attempt,
                started: fmt_time(a.started_at, tz),
                finished: fmt_time(a.finished_at, tz),
                outcome: a.outcome,
                detail: a.detail,
                worker: a.worker,
            })
            .collect(),
        can_resend,
        can_contact,
        n,
    }))
}

/// Resends a failed or dead notice.
pub async fn resend(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let (ctx, cfg, p2, id2) = (s.ctx, state.outbox.clone(), pid.clone(), id.clone());
    state
        .db(move |conn| notices::resend(conn, &ctx, &cfg, &p2, &id2))
        .await?;
    Ok(see_other(&format!("/p/{pid}/notices/{id}")))
}

/// Marks a notice as handled by phone or in person.
pub async fn contacted(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let (ctx, p2, id2) = (s.ctx, pid.clone(), id.clone());
    state
        .db(move |conn| notices::mark_contacted(conn, &ctx, &p2, &id2))
        .await?;
    Ok(see_other(&format!("/p/{pid}/notices/{id}")))
}

/// Test notice form fields.
#[derive(Debug, Deserialize)]
pub struct TestForm {
    pub to: String,
}

/// Queues the test notice.
pub async fn send_test(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    form: web::Form<TestForm>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let (ctx, cfg, tz, p2) = (
        s.ctx.clone(),
        state.outbox.clone(),
        state.settings.time_zone,
        pid.clone(),
    );
    let to = form.into_inner().to;
    match state
        .db(move |conn| notices::send_test(conn, &ctx, &cfg, tz, &p2, &to))
        .await
    {
        Ok(n) => Ok(see_other(&format!("/p/{pid}/notices/{}", n.id))),
        Err(AppError::Validation(f)) => {
            list_page(&state, &s, pid, NoticeQuery::default(), Some(f.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}
