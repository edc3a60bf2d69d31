//! The audit trail of a pharmacy (API, admins).

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::audit::{self, AuditFilter, AuditRow};
use crate::context::Ctx;
use crate::domain::fields::FieldErrors;
use crate::domain::role::Permission;
use crate::error::{ApiError, AppError};
use crate::web::extract::Staff;
use crate::web::AppState;

/// Filters; dates are days in Japan time.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Actions starting with this text, e.g. `patient.`.
    pub action: Option<String>,
    pub actor: Option<String>,
    pub subject_id: Option<String>,
    /// ok, denied or failed.
    pub outcome: Option<String>,
    /// First day (YYYY-MM-DD).
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD), inclusive.
    pub until: Option<String>,
    /// Only rows older than this sequence number (paging).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn day_start_utc(d: NaiveDate) -> chrono::NaiveDateTime {
    use chrono::TimeZone;
    chrono_tz::Asia::Tokyo
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map(|t| t.naive_utc())
        .unwrap_or_else(|| d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

impl AuditQuery {
    /// Parses the filters.
    pub fn to_filter(&self) -> Result<AuditFilter, FieldErrors> {
        let mut e = FieldErrors::new();
        let mut date = |field: &str, v: &Option<String>| {
            non_empty(v).and_then(|s| {
                e.check(
                    field,
                    NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| "YYYY-MM-DD".to_string()),
                )
            })
        };
        let from = date("from", &self.from).map(day_start_utc);
        let until = date("until", &self.until)
            .and_then(|d| d.succ_opt())
            .map(day_start_utc);
        let outcome = non_empty(&self.outcome);
        if let Some(o) = &outcome {
            if !matches!(o.as_str(), "ok" | "denied" | "failed") {
                e.add("outcome", "ok, denied, failed");
            }
        }
        e.into_result(|| AuditFilter {
            action_prefix: non_empty(&self.action),
            actor_name: non_empty(&self.actor),
            subject_id: non_empty(&self.subject_id),
            outcome,
            from,
            until,
            before_seq: self.before,
            limit: self.limit.unwrap_or(100),
        })
    }
}

/// Lists audit rows for an admin of the pharmacy; a refusal is itself audited.
pub fn list_for(
    conn: &mut crate::db::DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    filter: &AuditFilter,
) -> Result<Vec<AuditRow>, AppError> {
    crate::authz::require::<AppError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadAudit,
        "audit.listed",
        None,
    )?;
    Ok(audit::list(conn, pharmacy_id, filter)?)
}

/// The pharmacy's audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/pharmacies/{pharmacy_id}/audit", tag = "audit",
    params(("pharmacy_id" = String, Path), AuditQuery),
    responses((status = 200, body = [AuditRow]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    s: Staff,
    path: web::Path<String>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let filter = q.to_filter().map_err(AppError::Validation)?;
    let ctx = s.ctx;
    let rows = state
        .db(move |conn| list_for(conn, &ctx, &pid, &filter))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}
