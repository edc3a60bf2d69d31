//! The original (処方箋原本) of a copy-based prescription: registering it when it
//! arrives by mail (from its 2D symbol or typed), the field-by-field comparison
//! with what the copy said, a pharmacist's resolution of each difference, its
//! storage place and retention date, and the list of originals still awaited.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::CopyError;
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{
    clinics, copy_prescriptions, original_discrepancies, patients, prescriptions,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::originals::{
    compare, overdue, retention_until, OriginalState, Overdue, RxFields,
};
use crate::domain::role::Permission;
use crate::domain::transcription::read_symbol;

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

/// An original as registered: its 2D symbol text, or its fields typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct OriginalInput {
    /// The original's 2D symbol text (read by a scanner).
    pub symbol: Option<String>,
    /// The original's fields, typed (when there is no symbol).
    pub fields: Option<RxFields>,
    /// Where the paper is kept (box / file number).
    pub storage_place: String,
}

fn parse_original(input: &OriginalInput) -> Result<RxFields, CopyError> {
    if let Some(s) = input.symbol.as_deref().filter(|s| !s.trim().is_empty()) {
        let data = read_symbol(s).map_err(|m| CopyError::invalid("symbol", m))?;
        return Ok(RxFields::from_rx(&data));
    }
    let Some(f) = &input.fields else {
        return Err(CopyError::invalid(
            "symbol",
            "2次元シンボルを読み取るか、原本の内容を入力してください (symbol or fields required)",
        ));
    };
    let mut e = crate::domain::fields::FieldErrors::new();
    if f.patient_name.trim().is_empty() {
        e.add("fields.patient_name", "入力してください (required)");
    }
    if NaiveDate::parse_from_str(f.issue_date.trim(), "%Y-%m-%d").is_err() {
        e.add(
            "fields.issue_date",
            "日付は YYYY-MM-DD (date as YYYY-MM-DD)",
        );
    }
    if f.items.is_empty() || f.items.len() > 50 {
        e.add("fields.items", "薬品を1〜50件入力してください (1-50 items)");
    }
    for (i, it) in f.items.iter().enumerate() {
        if it.drug_code.trim().is_empty() && it.drug_name.trim().is_empty() {
            e.add(&format!("fields.items[{i}].drug_code"), "入力してください");
        }
    }
    if e.is_empty() {
        Ok(f.clone())
    } else {
        Err(CopyError::Invalid(e))
    }
}

fn storage_place(input: &str) -> Result<Option<String>, CopyError> {
    let s = crate::domain::text::normalize(input);
    if s.chars().count() > 100 {
        return Err(CopyError::invalid(
            "storage_place",
            "100文字以内 (at most 100)",
        ));
    }
    Ok((!s.is_empty()).then_some(s))
}

fn load_record(
    c: &mut DbConnection,
    pharmacy_id: &str,
    rx_id: &str,
) -> Result<CopyRecord, CopyError> {
    record(c, pharmacy_id, rx_id)?.ok_or(CopyError::NotFound)
}

/// Registers the original of a copy-based prescription (clerks and pharmacists)
/// and compares it with the copy: an exact match is reconciled at once; each
/// difference becomes an open discrepancy for a pharmacist.
pub fn register(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    input: &OriginalInput,
) -> Result<CopyView, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "original.received",
        Some(("prescription", rx_id)),
    )?;
    let original = parse_original(input)?;
    let place = storage_place(&input.storage_place)?;
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let r = load_record(c, pharmacy_id, rx_id)?;
        let copy: RxFields = serde_json::from_str(&r.copy_fields).unwrap_or_default();
        // Drug codes of either side resolved to products, so a YJ and a レセ電
        // code of the same product are not a difference.
        let mut yj = std::collections::HashMap::new();
        for code in copy
            .items
            .iter()
            .chain(original.items.iter())
            .map(|i| &i.drug_code)
        {
            if !yj.contains_key(code) {
                let p = crate::drugs::lookup(c, code)?.into_iter().next();
                yj.insert(code.clone(), p.map(|p| p.yj_code));
            }
        }
        let same = |a: &str, b: &str| match (yj.get(a), yj.get(b)) {
            (Some(Some(x)), Some(Some(y))) => x == y,
            _ => false,
        };
        let diffs = compare(&copy, &original, same);
        let state = OriginalState::parse(&r.original_state).unwrap_or(OriginalState::Awaiting);
        let next = state
            .on_registered(diffs.len())
            .map_err(CopyError::WrongState)?;
        for d in &diffs {
            diesel::insert_into(original_discrepancies::table)
                .values((
                    original_discrepancies::pharmacy_id.eq(pharmacy_id),
                    original_discrepancies::id.eq(uuid::Uuid::now_v7().to_string()),
                    original_discrepancies::prescription_id.eq(rx_id),
                    original_discrepancies::field.eq(&d.field),
                    original_discrepancies::label.eq(&d.label),
                    original_discrepancies::copy_value.eq(&d.copy),
                    original_discrepancies::original_value.eq(&d.original),
                    original_discrepancies::status.eq("open"),
                ))
                .execute(c)?;
        }
        let reconciled = next == OriginalState::Reconciled;
        diesel::update(
            copy_prescriptions::table
                .find((pharmacy_id, rx_id))
                .filter(copy_prescriptions::version.eq(r.version)),
        )
        .set((
            copy_prescriptions::original_state.eq(next.as_str()),
            copy_prescriptions::original_fields
                .eq(serde_json::to_string(&original).unwrap_or_default()),
            copy_prescriptions::original_received_at.eq(now),
            copy_prescriptions::original_received_by.eq(&ctx.actor.name),
            copy_prescriptions::storage_place.eq(&place),
            copy_prescriptions::reconciled_at.eq(reconciled.then_some(now)),
            copy_prescriptions::reconciled_by
                .eq(reconciled.then(|| format!("{}（自動照合）", ctx.actor.name))),
            copy_prescriptions::version.eq(r.version + 1),
        ))
        .execute(c)?;
        crate::tasks::close(
            c,
            pharmacy_id,
            crate::tasks::ORIGINAL_OVERDUE,
            rx_id,
            &ctx.actor.name,
            "原本受領",
            now,
        )?;
        let mut events = vec![Event::ok(Some(pharmacy_id), "original.received")
            .subject("prescription", rx_id)
            .detail(format!(
                "{}; differences: {}; storage: {}",
                if input
                    .symbol
                    .as_deref()
                    .is_some_and(|s| !s.trim().is_empty())
                {
                    "2D symbol"
                } else {
                    "typed"
                },
                diffs
                    .iter()
                    .map(|d| d.field.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                place.as_deref().unwrap_or("-")
            ))];
        if reconciled {
            events.push(
                Event::ok(Some(pharmacy_id), "original.reconciled")
                    .subject("prescription", rx_id)
                    .detail("matches the copy"),
            );
        }
        audit::record_many(c, ctx, events)?;
        view(c, pharmacy_id, rx_id, Some(ctx.today()))?.ok_or(CopyError::NotFound)
    })
}

/// A pharmacist's resolution of one difference.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct ResolveInput {
    /// 医療機関に確認した
    pub clinic_contacted: bool,
    /// What changed, and what was done (required).
    pub what_changed: String,
    /// The patient must be contacted (e.g. the dose given differs).
    pub patient_contact_needed: bool,
}

/// Resolves one discrepancy (pharmacists); the last one reconciles the original.
pub fn resolve(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    discrepancy_id: &str,
    input: &ResolveInput,
) -> Result<CopyView, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "original.discrepancy_resolved",
        Some(("prescription", rx_id)),
    )?;
    let what = crate::domain::text::normalize(&input.what_changed);
    if what.is_empty() || what.chars().count() > 1000 {
        return Err(CopyError::invalid(
            "what_changed",
            "何が変わったか・どう対応したかを1000文字以内で入力してください (required)",
        ));
    }
    let now = ctx.now.naive_utc();
    write_transaction(conn, |c| {
        let r = load_record(c, pharmacy_id, rx_id)?;
        let n = diesel::update(
            original_discrepancies::table
                .find((pharmacy_id, discrepancy_id))
                .filter(original_discrepancies::prescription_id.eq(rx_id))
                .filter(original_discrepancies::status.eq("open")),
        )
        .set((
            original_discrepancies::status.eq("resolved"),
            original_discrepancies::clinic_contacted.eq(Some(input.clinic_contacted)),
            original_discrepancies::what_changed.eq(Some(&what)),
            original_discrepancies::patient_contact_needed.eq(Some(input.patient_contact_needed)),
            original_discrepancies::resolved_by.eq(Some(&ctx.actor.name)),
            original_discrepancies::resolved_at.eq(Some(now)),
        ))
        .execute(c)?;
        if n == 0 {
            return Err(CopyError::WrongState(
                "未解決の相違が見つかりません (no such open discrepancy)".into(),
            ));
        }
        let open: i64 = original_discrepancies::table
            .filter(original_discrepancies::pharmacy_id.eq(pharmacy_id))
            .filter(original_discrepancies::prescription_id.eq(rx_id))
            .filter(original_discrepancies::status.eq("open"))
            .count()
            .get_result(c)?;
        let state = OriginalState::parse(&r.original_state).unwrap_or(OriginalState::Awaiting);
        let next = state
            .on_resolved(open as usize)
            .map_err(CopyError::WrongState)?;
        let reconciled = next == OriginalState::Reconciled;
        diesel::update(copy_prescriptions::table.find((pharmacy_id, rx_id)))
            .set((
                copy_prescriptions::original_state.eq(next.as_str()),
                copy_prescriptions::reconciled_at.eq(reconciled.then_some(now)),
                copy_prescriptions::reconciled_by.eq(reconciled.then(|| ctx.actor.name.clone())),
                copy_prescriptions::version.eq(r.version + 1),
            ))
            .execute(c)?;
        let mut events = vec![
            Event::ok(Some(pharmacy_id), "original.discrepancy_resolved")
                .subject("prescription", rx_id)
                .detail(format!(
                    "{discrepancy_id}: clinic contacted: {}; patient contact needed: {}; {what}",
                    input.clinic_contacted, input.patient_contact_needed
                )),
        ];
        if reconciled {
            events.push(
                Event::ok(Some(pharmacy_id), "original.reconciled")
                    .subject("prescription", rx_id)
                    .detail("all differences resolved"),
            );
        }
        audit::record_many(c, ctx, events)?;
        view(c, pharmacy_id, rx_id, Some(ctx.today()))?.ok_or(CopyError::NotFound)
    })
}

/// Records where the paper original is kept.
pub fn set_storage(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    rx_id: &str,
    place: &str,
) -> Result<CopyView, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::WritePatients,
        "original.stored",
        Some(("prescription", rx_id)),
    )?;
    let place = storage_place(place)?
        .ok_or_else(|| CopyError::invalid("storage_place", "入力してください (required)"))?;
    write_transaction(conn, |c| {
        let r = load_record(c, pharmacy_id, rx_id)?;
        if r.original_state == "awaiting" {
            return Err(CopyError::WrongState(
                "原本が未着です (original not received)".into(),
            ));
        }
        diesel::update(copy_prescriptions::table.find((pharmacy_id, rx_id)))
            .set((
                copy_prescriptions::storage_place.eq(&place),
                copy_prescriptions::version.eq(r.version + 1),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "original.stored")
                .subject("prescription", rx_id)
                .detail(place.clone()),
        )?;
        view(c, pharmacy_id, rx_id, Some(ctx.today()))?.ok_or(CopyError::NotFound)
    })
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
