//! The console's deliveries: the board per day and state (and creating a
//! delivery), a delivery's detail with timeline and temperature chart, and its
//! actions: steps, quarantine decision, proxy confirmed by phone, a new handover
//! code, a logger's CSV. Refusals are shown on the page.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::{web, HttpResponse};
use futures_util::StreamExt;

use super::see_other;
use crate::deliveries::{self, DecisionInput, DeliveryInput, ProxyInput, StepInput};
use crate::domain::delivery::chart::temperature_svg;
use crate::domain::delivery::coldchain::LabelRange;
use crate::error::{AppError, PageError};
use crate::web::delivery_pages::{BoardPage, DeliveryPage};
use crate::web::extract::StaffPage;
use crate::web::pages::{html, Layout};
use crate::web::AppState;

type Form = web::Form<HashMap<String, String>>;

/// A refusal in words a person can act on (field messages included).
pub(crate) fn message(e: &AppError) -> String {
    match e {
        AppError::Validation(f) => format!("入力内容を確認してください: {f}"),
        other => other.public_message(),
    }
}

/// Whether a refusal is shown on the page (rather than as an error page).
pub(crate) fn shown(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Validation(_)
            | AppError::Conflict(_)
            | AppError::Refused(_)
            | AppError::Forbidden(_)
    )
}

async fn board_page(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    day: Option<String>,
    st: String,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let day = day
        .and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .unwrap_or_else(|| s.ctx.today());
    let (ctx, p2, st2) = (s.ctx.clone(), pid.to_string(), st.clone());
    let rows = state
        .db(move |conn| {
            deliveries::board(conn, &ctx, &p2, day, Some(st2.as_str())).map_err(AppError::from)
        })
        .await?;
    Ok(html(&BoardPage {
        layout: Layout::for_session("配送ボード", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        day: day.to_string(),
        state: st,
        rows,
        error,
    }))
}

/// The board (`?day=YYYY-MM-DD&state=`).
pub async fn board(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let st = q.get("state").cloned().unwrap_or_default();
    board_page(&state, &s, &pid, q.get("day").cloned(), st, None).await
}

/// Creates a delivery from the board's form.
pub async fn create(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let f = form.into_inner();
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let input = DeliveryInput {
        prescription_ids: g("prescription_ids")
            .split([',', '、', ' '])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect(),
        method: g("method"),
        destination: Some(g("destination")),
        recipient_rules: g("recipient_rules"),
        handling_notes: g("handling_notes"),
        window_start: g("window_start"),
        window_end: g("window_end"),
        confirm_method: f.contains_key("confirm_method"),
    };
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    let r = state
        .db(move |conn| {
            Ok::<_, AppError>(deliveries::create(conn, &ctx, &p2, &input).map_err(AppError::from))
        })
        .await?;
    match r {
        Ok(d) => Ok(see_other(&format!("/p/{pid}/deliveries/{}", d.delivery.id))),
        Err(e) if shown(&e) => {
            board_page(&state, &s, &pid, None, String::new(), Some(message(&e))).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn detail_page(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    id: &str,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (ctx, p2, i2) = (s.ctx.clone(), pid.to_string(), id.to_string());
    let (d, trip, carriers) = state
        .db(move |conn| {
            let d = deliveries::get(conn, &ctx, &p2, &i2)?;
            let t = deliveries::trip(conn, &ctx, &p2, &i2)?;
            let c = deliveries::carriers(conn, &ctx, &p2)?;
            Ok::<_, AppError>((d, t, c))
        })
        .await?;
    // The chart shows the narrowest range of the contents.
    let range = trip
        .products
        .iter()
        .filter_map(|p| LabelRange::parse(&p.label_range))
        .reduce(|a, b| LabelRange {
            min: a.min.max(b.min),
            max: a.max.min(b.max),
        });
    let (exc, gaps): (Vec<_>, Vec<_>) = (
        trip.products
            .iter()
            .flat_map(|p| p.analysis.excursions.clone())
            .collect(),
        trip.products
            .first()
            .map(|p| p.analysis.gaps.clone())
            .unwrap_or_default(),
    );
    let chart_svg = if d.delivery.needs_logger {
        temperature_svg(&trip.readings, range, &exc, &gaps)
    } else {
        String::new()
    };
    Ok(html(&DeliveryPage {
        layout: Layout::for_session("配送", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        d,
        trip,
        chart_svg,
        carriers,
        error,
    }))
}

/// A delivery with its timeline and temperatures.
pub async fn detail(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    detail_page(&state, &s, &pid, &id, None).await
}

/// Runs one action and shows the detail again (with the refusal, if any).
async fn act<F>(
    state: web::Data<AppState>,
    s: StaffPage,
    pid: String,
    id: String,
    f: F,
) -> Result<HttpResponse, PageError>
where
    F: FnOnce(&mut crate::db::DbConnection) -> Result<(), AppError> + Send + 'static,
{
    let r = state.db(move |conn| Ok::<_, AppError>(f(conn))).await?;
    match r {
        Ok(()) => Ok(see_other(&format!("/p/{pid}/deliveries/{id}"))),
        Err(e) if shown(&e) => detail_page(&state, &s, &pid, &id, Some(message(&e))).await,
        Err(e) => Err(e.into()),
    }
}

/// Records a step.
pub async fn step(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let f = form.into_inner();
    let g = |k: &str| f.get(k).cloned().filter(|v| !v.trim().is_empty());
    let input = StepInput {
        state: g("state").unwrap_or_default(),
        place: g("place").unwrap_or_default(),
        note: g("note").unwrap_or_default(),
        seal_number: g("seal_number"),
        logger_serial: g("logger_serial"),
        logger_interval_seconds: g("logger_interval_seconds").and_then(|v| v.trim().parse().ok()),
        courier_id: g("courier_id"),
        next_attempt: g("next_attempt"),
    };
    let (ctx, outbox, p2, i2) = (s.ctx.clone(), state.outbox.clone(), pid.clone(), id.clone());
    act(state, s, pid, id, move |c| {
        deliveries::advance(c, &ctx, &outbox, &p2, &i2, &input)
            .map(|_| ())
            .map_err(AppError::from)
    })
    .await
}

/// Records a pharmacist's quarantine decision.
pub async fn decide(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let f = form.into_inner();
    let input = DecisionInput {
        decision: f.get("decision").cloned().unwrap_or_default(),
        reason: f.get("reason").cloned().unwrap_or_default(),
    };
    let (ctx, p2, i2) = (s.ctx.clone(), pid.clone(), id.clone());
    act(state, s, pid, id, move |c| {
        deliveries::decide_quarantine(c, &ctx, &p2, &i2, &input)
            .map(|_| ())
            .map_err(AppError::from)
    })
    .await
}

/// Records the phone confirmation of a proxy.
pub async fn proxy(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let f = form.into_inner();
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let input = ProxyInput {
        name: g("name"),
        relation: g("relation"),
        note: g("note"),
    };
    let (ctx, p2, i2) = (s.ctx.clone(), pid.clone(), id.clone());
    act(state, s, pid, id, move |c| {
        deliveries::confirm_proxy(c, &ctx, &p2, &i2, &input)
            .map(|_| ())
            .map_err(AppError::from)
    })
    .await
}

/// Sends the patient a new handover code.
pub async fn code(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let (ctx, outbox, p2, i2) = (s.ctx.clone(), state.outbox.clone(), pid.clone(), id.clone());
    act(state, s, pid, id, move |c| {
        deliveries::reissue_code(c, &ctx, &outbox, &p2, &i2)
            .map(|_| ())
            .map_err(AppError::from)
    })
    .await
}

/// Imports a logger's CSV export (multipart `file`, at most 4 MiB).
pub async fn readings(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    mut form: Multipart,
) -> Result<HttpResponse, PageError> {
    const LIMIT: usize = 4 * 1024 * 1024;
    let (pid, id) = path.into_inner();
    let mut bytes = Vec::new();
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| AppError::BadRequest(format!("upload: {e}")))?;
        let is_file = field.name() == Some("file");
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(format!("upload: {e}")))?;
            if is_file {
                if bytes.len() + chunk.len() > LIMIT {
                    return Err(AppError::BadRequest("CSV too large (4 MiB)".into()).into());
                }
                bytes.extend_from_slice(&chunk);
            }
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (ctx, outbox, p2, i2) = (s.ctx.clone(), state.outbox.clone(), pid.clone(), id.clone());
    act(state, s, pid, id, move |c| {
        deliveries::ingest_csv(c, &ctx, &outbox, &p2, &i2, "", &text)
            .map(|_| ())
            .map_err(AppError::from)
    })
    .await
}
