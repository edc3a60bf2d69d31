//! The original (処方箋原本) of a copy-based prescription: registering it when it
//! arrives by mail (from its 2D symbol or typed), the field-by-field comparison
//! with what the copy said, a pharmacist's resolution of each difference and its
//! storage place. (The record and its views are in `record`.)

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::CopyError;
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{copy_prescriptions, original_discrepancies};
use crate::db::{write_transaction, DbConnection};
use crate::domain::originals::{compare, OriginalState, RxFields};
use crate::domain::role::Permission;
use crate::domain::transcription::read_symbol;

pub use super::record::{awaited, AwaitedOriginal, CopyRecord, CopyView, Discrepancy};
pub(crate) use super::record::{record, retention_for, view};

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
