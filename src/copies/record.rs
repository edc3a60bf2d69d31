//! A copy-based prescription's stored record and how staff see it: the copy's and
//! the original's fields, the differences and their resolution, due dates and
//! retention, and the list of originals still awaited.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::CopyError;
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{
    clinics, copy_prescriptions, original_discrepancies, patients, prescriptions,
};
use crate::db::DbConnection;
use crate::domain::originals::{overdue, retention_until, OriginalState, Overdue, RxFields};
use crate::domain::role::Permission;

/// A copy-based prescription's record (stored row).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = copy_prescriptions)]
pub struct CopyRecord {
    pub prescription_id: String,
    pub copy_id: String,
    pub clinic_id: Option<String>,
    pub online_marked: bool,
    pub narcotic: bool,
    pub narcotic_reason: String,
    pub valid_until: NaiveDate,
    pub copy_fields: String,
    pub original_state: String,
    pub original_fields: Option<String>,
    pub original_received_at: Option<NaiveDateTime>,
    pub original_received_by: Option<String>,
    pub storage_place: Option<String>,
    pub retain_until: Option<NaiveDate>,
    pub due_on: Option<NaiveDate>,
    pub escalate_on: Option<NaiveDate>,
    pub last_requested_on: Option<NaiveDate>,
    pub reconciled_at: Option<NaiveDateTime>,
    pub reconciled_by: Option<String>,
    pub version: i32,
}

/// One difference between copy and original, with its resolution.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = original_discrepancies)]
pub struct Discrepancy {
    pub id: String,
    pub field: String,
    pub label: String,
    pub copy_value: String,
    pub original_value: String,
    /// open or resolved
    pub status: String,
    /// 疑義照会: the clinic was contacted.
    pub clinic_contacted: Option<bool>,
    /// What changed (and what was done about it).
    pub what_changed: Option<String>,
    /// Whether the patient must be contacted.
    pub patient_contact_needed: Option<bool>,
    pub resolved_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<NaiveDateTime>,
}

/// The copy side of a prescription, as shown to staff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CopyView {
    pub copy_id: String,
    pub clinic_id: Option<String>,
    pub clinic_name: Option<String>,
    /// 備考「オンライン対応」 was present; false shows a warning.
    pub online_marked: bool,
    /// Handover waits for the original.
    pub narcotic: bool,
    pub narcotic_reason: String,
    #[schema(value_type = String, format = Date)]
    pub valid_until: NaiveDate,
    pub original_state: OriginalState,
    pub original_label: String,
    pub overdue: Overdue,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub escalate_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub original_received_at: Option<NaiveDateTime>,
    pub original_received_by: Option<String>,
    /// Where the paper original is kept (box / file number).
    pub storage_place: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub retain_until: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reconciled_at: Option<NaiveDateTime>,
    pub reconciled_by: Option<String>,
    pub copy_fields: RxFields,
    pub original_fields: Option<RxFields>,
    pub discrepancies: Vec<Discrepancy>,
    pub open_discrepancies: usize,
}

/// The copy record of a prescription, if it came from a copy.
pub(crate) fn record(
    c: &mut DbConnection,
    pharmacy_id: &str,
    rx_id: &str,
) -> QueryResult<Option<CopyRecord>> {
    copy_prescriptions::table
        .find((pharmacy_id, rx_id))
        .select(CopyRecord::as_select())
        .first(c)
        .optional()
}

/// The copy view of a prescription; `today` decides the overdue level.
pub(crate) fn view(
    c: &mut DbConnection,
    pharmacy_id: &str,
    rx_id: &str,
    today: Option<NaiveDate>,
) -> QueryResult<Option<CopyView>> {
    let Some(r) = record(c, pharmacy_id, rx_id)? else {
        return Ok(None);
    };
    let clinic_name = match &r.clinic_id {
        Some(cid) => clinics::table
            .find((pharmacy_id, cid))
            .select(clinics::name)
            .first(c)
            .optional()?,
        None => None,
    };
    let discrepancies: Vec<Discrepancy> = original_discrepancies::table
        .filter(original_discrepancies::pharmacy_id.eq(pharmacy_id))
        .filter(original_discrepancies::prescription_id.eq(rx_id))
        .order(original_discrepancies::id.asc())
        .select(Discrepancy::as_select())
        .load(c)?;
    let state = OriginalState::parse(&r.original_state).unwrap_or(OriginalState::Awaiting);
    Ok(Some(CopyView {
        open_discrepancies: discrepancies.iter().filter(|d| d.status == "open").count(),
        overdue: today
            .map(|t| overdue(state, r.due_on, r.escalate_on, t))
            .unwrap_or(Overdue::No),
        original_label: state.label().into(),
        original_state: state,
        copy_fields: serde_json::from_str(&r.copy_fields).unwrap_or_default(),
        original_fields: r
            .original_fields
            .as_deref()
            .and_then(|f| serde_json::from_str(f).ok()),
        copy_id: r.copy_id,
        clinic_id: r.clinic_id,
        clinic_name,
        online_marked: r.online_marked,
        narcotic: r.narcotic,
        narcotic_reason: r.narcotic_reason,
        valid_until: r.valid_until,
        due_on: r.due_on,
        escalate_on: r.escalate_on,
        original_received_at: r.original_received_at,
        original_received_by: r.original_received_by,
        storage_place: r.storage_place,
        retain_until: r.retain_until,
        reconciled_at: r.reconciled_at,
        reconciled_by: r.reconciled_by,
        discrepancies,
    }))
}

/// Keep-until date for a prescription dispensed on `dispensed_on` (5 years when
/// the patient has 公費).
pub(crate) fn retention_for(
    c: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
    dispensed_on: NaiveDate,
) -> QueryResult<NaiveDate> {
    let public: String = patients::table
        .find((pharmacy_id, patient_id))
        .select(patients::public_expenses)
        .first(c)?;
    let has_public = serde_json::from_str::<Vec<serde_json::Value>>(&public)
        .map(|v| !v.is_empty())
        .unwrap_or(true);
    Ok(retention_until(dispensed_on, has_public))
}

/// One line of the "originals awaited" list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AwaitedOriginal {
    pub prescription_id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub clinic_name: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub issue_date: NaiveDate,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub dispensed_at: Option<NaiveDateTime>,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_on: Option<NaiveDate>,
    pub overdue: Overdue,
    pub original_state: OriginalState,
    pub original_label: String,
    pub narcotic: bool,
}

/// Originals not yet reconciled (awaited, or with open differences), by due date
/// (not yet dispensed last); audited read.
pub fn awaited(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
) -> Result<Vec<AwaitedOriginal>, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::ReadPatients,
        "original.listed",
        None,
    )?;
    type Row = (
        String,
        String,
        String,
        Option<String>,
        NaiveDate,
        Option<NaiveDateTime>,
        Option<NaiveDate>,
        Option<NaiveDate>,
        String,
        bool,
    );
    let rows: Vec<Row> = copy_prescriptions::table
        .inner_join(
            prescriptions::table.on(prescriptions::pharmacy_id
                .eq(copy_prescriptions::pharmacy_id)
                .and(prescriptions::id.eq(copy_prescriptions::prescription_id))),
        )
        .inner_join(
            patients::table.on(patients::pharmacy_id
                .eq(prescriptions::pharmacy_id)
                .and(patients::id.eq(prescriptions::patient_id))),
        )
        .left_join(
            clinics::table.on(clinics::pharmacy_id
                .eq(copy_prescriptions::pharmacy_id)
                .and(clinics::id.nullable().eq(copy_prescriptions::clinic_id))),
        )
        .filter(copy_prescriptions::pharmacy_id.eq(pharmacy_id))
        .filter(copy_prescriptions::original_state.ne("reconciled"))
        .filter(prescriptions::status.ne("cancelled"))
        .select((
            copy_prescriptions::prescription_id,
            patients::id,
            patients::name_kanji,
            clinics::name.nullable(),
            prescriptions::issue_date,
            prescriptions::dispensed_at,
            copy_prescriptions::due_on,
            copy_prescriptions::escalate_on,
            copy_prescriptions::original_state,
            copy_prescriptions::narcotic,
        ))
        .load(conn)?;
    let today = ctx.today();
    let mut out: Vec<AwaitedOriginal> = rows
        .into_iter()
        .map(|r| {
            let state = OriginalState::parse(&r.8).unwrap_or(OriginalState::Awaiting);
            AwaitedOriginal {
                prescription_id: r.0,
                patient_id: r.1,
                patient_name: r.2,
                clinic_name: r.3,
                issue_date: r.4,
                dispensed_at: r.5,
                due_on: r.6,
                overdue: overdue(state, r.6, r.7, today),
                original_label: state.label().into(),
                original_state: state,
                narcotic: r.9,
            }
        })
        .collect();
    out.sort_by_key(|a| (a.due_on.is_none(), a.due_on, a.issue_date));
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "original.listed").detail(format!("{} awaited", out.len())),
    )?;
    Ok(out)
}
