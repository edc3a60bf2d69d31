//! Console pages for e-prescriptions: the 引換番号 desk (accept, results waiting
//! for registration, kept messages) and the actions on an e-prescription's page.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};

use super::see_other;
use crate::domain::eps::intake::AcceptInput;
use crate::domain::fields::FieldErrors;
use crate::domain::role::Permission;
use crate::eps::{intake, lifecycle, results, EpsError};
use crate::error::{AppError, PageError};
use crate::web::extract::StaffPage;
use crate::web::pages::{html, EpsPage, Layout};
use crate::web::AppState;

async fn render(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    form: AcceptInput,
    error: Option<EpsError>,
) -> Result<HttpResponse, PageError> {
    let (ctx, p2) = (s.ctx.clone(), pid.to_string());
    let (pending, kept) = state
        .db(move |conn| {
            let pending = results::pending(conn, &ctx, &p2)?;
            // Clerks may list pending results; kept raw messages are for pharmacists.
            let kept = if ctx.actor.require(&p2, Permission::Dispense).is_ok() {
                crate::eps::kept_messages(conn, &ctx, &p2)?
            } else {
                Vec::new()
            };
            Ok::<_, EpsError>((pending, kept))
        })
        .await?;
    let field_errors = match &error {
        Some(EpsError::Invalid(f)) => f.clone(),
        _ => FieldErrors::new(),
    };
    Ok(html(&EpsPage {
        layout: Layout::for_session("電子処方箋", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        configured: state.settings.raw.eps.gateway().is_some(),
        form,
        error: error.map(|e| AppError::from(e).public_message()),
        field_errors,
        pending,
        kept,
    }))
}

/// The 引換番号 desk.
pub async fn desk(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    render(&state, &s, &pid, AcceptInput::default(), None).await
}

/// Accepts by 引換番号; errors are shown on the desk with what was typed.
pub async fn accept(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let f = form.into_inner();
    let get = |k: &str| f.get(k).cloned().filter(|v| !v.trim().is_empty());
    let input = AcceptInput {
        access_code: get("access_code").unwrap_or_default(),
        insurer_number: get("insurer_number"),
        insured_symbol: get("insured_symbol"),
        insured_number: get("insured_number"),
        insured_branch: get("insured_branch"),
        qualification_confirmed: get("qualification_confirmed").is_some(),
        patient_id: get("patient_id"),
    };
    let (ctx, policy, gw, p2, i2) = (
        s.ctx.clone(),
        state.settings.currency_policy(),
        state.gateway(),
        pid.clone(),
        input.clone(),
    );
    let outcome = state
        .db(move |conn| {
            Ok::<_, AppError>(intake::accept(conn, gw.as_ref(), &ctx, &p2, &i2, &policy))
        })
        .await?;
    match outcome {
        Ok(p) => Ok(see_other(&format!(
            "/p/{pid}/prescriptions/{}",
            p.header.id
        ))),
        Err(e @ (EpsError::Db(_) | EpsError::Forbidden(_))) => Err(AppError::from(e).into()),
        Err(e) => render(&state, &s, &pid, input, Some(e)).await,
    }
}

/// Cancels the acceptance (受付取消) or rejects (調剤拒否, with a reason).
pub async fn cancel(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let f = form.into_inner();
    let reason = f.get("reason").cloned();
    let reject = f.get("reject").is_some_and(|v| v == "true");
    let (ctx, gw, p2, id2) = (s.ctx.clone(), state.gateway(), pid.clone(), id.clone());
    state
        .db(move |conn| {
            lifecycle::cancel_acceptance(
                conn,
                gw.as_ref(),
                &ctx,
                &p2,
                &id2,
                reason.as_deref(),
                reject,
            )
        })
        .await?;
    Ok(see_other(&format!("/p/{pid}/prescriptions/{id}")))
}

/// Asks the service for the current status.
pub async fn status(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let (ctx, gw, p2, id2) = (s.ctx.clone(), state.gateway(), pid.clone(), id.clone());
    state
        .db(move |conn| lifecycle::refresh_status(conn, gw.as_ref(), &ctx, &p2, &id2))
        .await?;
    Ok(see_other(&format!("/p/{pid}/prescriptions/{id}")))
}

/// Queues a failed result registration again.
pub async fn retry(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let (ctx, dead_after, p2, id2) = (
        s.ctx.clone(),
        state.outbox.dead_after,
        pid.clone(),
        id.clone(),
    );
    state
        .db(move |conn| results::retry(conn, &ctx, &p2, &id2, dead_after))
        .await?;
    Ok(see_other(&format!("/p/{pid}/prescriptions/{id}")))
}

/// Cancels a registered dispensing result (with a reason).
pub async fn cancel_result(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let reason = form.into_inner().remove("reason");
    let (ctx, gw, p2, id2) = (s.ctx.clone(), state.gateway(), pid.clone(), id.clone());
    state
        .db(move |conn| {
            lifecycle::cancel_result(conn, gw.as_ref(), &ctx, &p2, &id2, reason.as_deref())
        })
        .await?;
    Ok(see_other(&format!("/p/{pid}/prescriptions/{id}")))
}
