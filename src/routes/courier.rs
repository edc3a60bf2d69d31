//! The courier's phone page: their open stops, one stop with what a courier
//! needs (name, address, phone, window, handling notes; never the contents), and
//! the road steps and the handover with the code or a confirmed proxy and an
//! optional signature drawn on the screen.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};

use crate::deliveries::{self, HandoverInput, StepInput};
use crate::error::{AppError, PageError};
use crate::routes::console::deliveries::{message, shown};
use crate::web::delivery_pages::CourierPage;
use crate::web::extract::StaffPage;
use crate::web::pages::{html, Layout};
use crate::web::AppState;

async fn page(
    state: &AppState,
    s: &StaffPage,
    one: Option<(String, String)>,
    error: Option<String>,
    done: Option<String>,
) -> Result<HttpResponse, PageError> {
    let ctx = s.ctx.clone();
    let (stops, stop) = state
        .db(move |conn| {
            Ok::<_, AppError>(match one {
                Some((pid, id)) => (
                    Vec::new(),
                    Some(deliveries::courier_view(conn, &ctx, &pid, &id)?),
                ),
                None => (deliveries::courier_list(conn, &ctx)?, None),
            })
        })
        .await?;
    Ok(html(&CourierPage {
        layout: Layout::for_session("配送", &s.session, None, state.demo_mode),
        stops,
        stop,
        error,
        done,
    }))
}

/// The courier's open stops.
pub async fn list(state: web::Data<AppState>, s: StaffPage) -> Result<HttpResponse, PageError> {
    page(&state, &s, None, None, None).await
}

/// One stop.
pub async fn stop(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    page(&state, &s, Some(path.into_inner()), None, None).await
}

async fn after(
    state: &AppState,
    s: &StaffPage,
    ids: (String, String),
    r: Result<(), AppError>,
    done: &str,
) -> Result<HttpResponse, PageError> {
    match r {
        Ok(()) => page(state, s, Some(ids), None, Some(done.to_string())).await,
        Err(e) if shown(&e) => page(state, s, Some(ids), Some(message(&e)), None).await,
        Err(e) => Err(e.into()),
    }
}

/// A road step: out for delivery, failed attempt, returned.
pub async fn step(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let ids = path.into_inner();
    let f = form.into_inner();
    let g = |k: &str| f.get(k).cloned().filter(|v| !v.trim().is_empty());
    let input = StepInput {
        state: g("state").unwrap_or_default(),
        place: g("place").unwrap_or_default(),
        note: g("note").unwrap_or_default(),
        next_attempt: g("next_attempt"),
        ..StepInput::default()
    };
    let (ctx, outbox, (pid, id)) = (s.ctx.clone(), state.outbox.clone(), ids.clone());
    let r = state
        .db(move |c| {
            Ok::<_, AppError>(
                deliveries::advance(c, &ctx, &outbox, &pid, &id, &input)
                    .map(|_| ())
                    .map_err(AppError::from),
            )
        })
        .await?;
    after(&state, &s, ids, r, "記録しました。").await
}

/// The handover at the door.
pub async fn hand_over(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let ids = path.into_inner();
    let f = form.into_inner();
    let g = |k: &str| f.get(k).cloned().filter(|v| !v.trim().is_empty());
    let input = HandoverInput {
        recipient: g("recipient").unwrap_or_else(|| "patient".into()),
        code: g("code"),
        recipient_name: g("recipient_name"),
        relation: g("relation"),
        signature: g("signature"),
        place: g("place").unwrap_or_default(),
    };
    let (ctx, outbox, (pid, id)) = (s.ctx.clone(), state.outbox.clone(), ids.clone());
    let after_hours = state.settings.raw.delivery.followup_after();
    let r = state
        .db(move |c| {
            Ok::<_, AppError>(
                deliveries::hand_over(c, &ctx, &outbox, after_hours, &pid, &id, &input)
                    .map(|_| ())
                    .map_err(AppError::from),
            )
        })
        .await?;
    after(&state, &s, ids, r, "お渡しを記録しました。").await
}
