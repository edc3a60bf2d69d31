//! The console's controlled-drug ledger (麻薬帳簿): stock per product, a product's
//! entries, recording receipts, returns, disposals and accidents, and the exports.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};

use super::see_other;
use crate::error::{AppError, PageError};
use crate::ledger::{self, EntryInput, LedgerError};
use crate::web::extract::StaffPage;
use crate::web::guidance_pages::LedgerPage;
use crate::web::pages::{html, Layout};
use crate::web::AppState;

async fn page(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    product: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (ctx, p2, prod) = (s.ctx.clone(), pid.to_string(), product.clone());
    let (stock, entries) = state
        .db(move |conn| {
            let stock = ledger::stock(conn, &ctx, &p2)?;
            let entries = match &prod {
                Some(p) => ledger::entries(conn, &ctx, &p2, p)?,
                None => Vec::new(),
            };
            Ok::<_, AppError>((stock, entries))
        })
        .await?;
    let today = crate::context::jst(state.clock.now().naive_utc()).date_naive();
    Ok(html(&LedgerPage {
        layout: Layout::for_session("麻薬帳簿", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        product: product.unwrap_or_default(),
        month_start: today.format("%Y-%m-01").to_string(),
        today: today.to_string(),
        report_year: crate::ledger::export::report_year(today),
        stock,
        entries,
        error,
    }))
}

/// Stock, and one product's entries (`?product=`).
pub async fn show(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let product = q.get("product").cloned().filter(|p| !p.is_empty());
    page(&state, &s, &pid, product, None).await
}

/// Records an entry; refusals are shown on the page.
pub async fn record(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let f = form.into_inner();
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let input = EntryInput {
        product: g("product"),
        kind: g("kind"),
        quantity: g("quantity").trim().parse().unwrap_or(0),
        unit: g("unit"),
        lot: g("lot"),
        witness: g("witness"),
        reference: g("reference"),
        note: g("note"),
    };
    let product = input.product.clone();
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    let outcome = state
        .db(move |conn| Ok::<_, AppError>(ledger::record(conn, &ctx, &p2, &input)))
        .await?;
    match outcome {
        Ok(_) => Ok(see_other(&format!("/p/{pid}/ledger?product={product}"))),
        Err(e @ (LedgerError::Invalid(_) | LedgerError::Balance { .. })) => {
            let msg = AppError::from(e).public_message();
            page(&state, &s, &pid, Some(product), Some(msg)).await
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}
