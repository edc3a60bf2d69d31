//! What the ledger prints: the 麻薬帳簿 of a product for a period, the annual report
//! (October 1 to September 30: per product carried over, received, dispensed,
//! returned, disposed, accidents and the balance), both as CSV, and the draft of an
//! accident report (事故届) with the facts the prefecture asks for. Dates are Japan
//! time. Every export is an audited read.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{Entry, LedgerError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{controlled_ledger, controlled_stock, pharmacies};
use crate::db::DbConnection;
use crate::domain::delivery::ledger::EntryKind;
use crate::domain::role::Permission;

fn utc_start(day: NaiveDate) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).unwrap_or_default() - Duration::hours(9)
}

fn jst(t: NaiveDateTime) -> String {
    crate::context::jst(t).format("%Y-%m-%d %H:%M").to_string()
}

fn csv_of(rows: Vec<Vec<String>>) -> Result<String, LedgerError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r)
            .map_err(|e| LedgerError::Export(e.to_string()))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| LedgerError::Export(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn allowed(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    action: &str,
    detail: String,
) -> Result<(), LedgerError> {
    crate::authz::require::<LedgerError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        action,
        None,
    )?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), action).detail(detail),
    )?;
    Ok(())
}

/// The 麻薬帳簿 of `product` from `from` to `to` (inclusive, Japan dates), as CSV.
pub fn book_csv(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    product: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<String, LedgerError> {
    allowed(
        conn,
        ctx,
        pharmacy_id,
        "ledger.book_exported",
        format!("{product} {from}..{to}"),
    )?;
    let name: String = controlled_stock::table
        .find((pharmacy_id, product))
        .select(controlled_stock::product_name)
        .first(conn)
        .optional()?
        .ok_or(LedgerError::NotFound)?;
    let entries: Vec<Entry> = controlled_ledger::table
        .filter(controlled_ledger::pharmacy_id.eq(pharmacy_id))
        .filter(controlled_ledger::product.eq(product))
        .filter(controlled_ledger::occurred_at.ge(utc_start(from)))
        .filter(controlled_ledger::occurred_at.lt(utc_start(to + Duration::days(1))))
        .order(controlled_ledger::seq.asc())
        .select(Entry::as_select())
        .load(conn)?;
    let mut rows = vec![vec![
        "品名".to_string(),
        "番号".into(),
        "日時".into(),
        "区分".into(),
        "数量".into(),
        "単位".into(),
        "ロット".into(),
        "残高".into(),
        "記帳者".into(),
        "立会者".into(),
        "参照".into(),
        "備考".into(),
    ]];
    for e in entries {
        rows.push(vec![
            name.clone(),
            e.seq.to_string(),
            jst(e.occurred_at),
            EntryKind::parse(&e.kind)
                .map(|k| k.label())
                .unwrap_or("?")
                .into(),
            e.quantity.to_string(),
            e.unit,
            e.lot,
            e.balance_after.to_string(),
            e.actor,
            e.witness,
            e.reference,
            e.note,
        ]);
    }
    csv_of(rows)
}

/// One product's line of the annual report.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AnnualLine {
    pub product: String,
    pub name: String,
    pub unit: String,
    pub carried_over: i64,
    pub received: i64,
    pub dispensed: i64,
    pub returned: i64,
    pub disposed: i64,
    pub accident: i64,
    pub balance: i64,
}

/// The report year (whose September 30 ends the period) that `day` falls in.
pub fn report_year(day: NaiveDate) -> i32 {
    use chrono::Datelike;
    if day.month() >= 10 {
        day.year() + 1
    } else {
        day.year()
    }
}

/// The annual report's period ending September 30 of `year`.
pub fn period(year: i32) -> Option<(NaiveDate, NaiveDate)> {
    Some((
        NaiveDate::from_ymd_opt(year - 1, 10, 1)?,
        NaiveDate::from_ymd_opt(year, 9, 30)?,
    ))
}

/// The annual report (October 1 of `year - 1` to September 30 of `year`).
pub fn annual(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    year: i32,
) -> Result<Vec<AnnualLine>, LedgerError> {
    let (from, to) = period(year).ok_or_else(|| super::invalid("year", "年が正しくありません"))?;
    allowed(
        conn,
        ctx,
        pharmacy_id,
        "ledger.annual_exported",
        format!("{from}..{to}"),
    )?;
    let (start, end) = (utc_start(from), utc_start(to + Duration::days(1)));
    let stock: Vec<(String, String, String)> = controlled_stock::table
        .filter(controlled_stock::pharmacy_id.eq(pharmacy_id))
        .filter(controlled_stock::category.eq("narcotic"))
        .order(controlled_stock::product_name.asc())
        .select((
            controlled_stock::product,
            controlled_stock::product_name,
            controlled_stock::unit,
        ))
        .load(conn)?;
    let mut out = Vec::new();
    for (product, name, unit) in stock {
        let entries: Vec<(String, i64, i64, NaiveDateTime)> = controlled_ledger::table
            .filter(controlled_ledger::pharmacy_id.eq(pharmacy_id))
            .filter(controlled_ledger::product.eq(&product))
            .filter(controlled_ledger::occurred_at.lt(end))
            .order(controlled_ledger::seq.asc())
            .select((
                controlled_ledger::kind,
                controlled_ledger::quantity,
                controlled_ledger::balance_after,
                controlled_ledger::occurred_at,
            ))
            .load(conn)?;
        let mut line = AnnualLine {
            product,
            name,
            unit,
            ..AnnualLine::default()
        };
        for (kind, q, after, at) in entries {
            if at < start {
                line.carried_over = after;
            } else {
                match EntryKind::parse(&kind) {
                    Some(EntryKind::Received) => line.received += q,
                    Some(EntryKind::Dispensed) => line.dispensed += q,
                    Some(EntryKind::Returned) => line.returned += q,
                    Some(EntryKind::Disposed) => line.disposed += q,
                    Some(EntryKind::Accident) => line.accident += q,
                    _ => {}
                }
            }
            line.balance = after;
        }
        out.push(line);
    }
    Ok(out)
}

/// [`annual`] as CSV.
pub fn annual_csv(lines: &[AnnualLine]) -> Result<String, LedgerError> {
    let mut rows = vec![[
        "品名",
        "YJコード",
        "単位",
        "前年度繰越",
        "譲受",
        "調剤",
        "返納",
        "廃棄",
        "事故",
        "年度末残高",
    ]
    .map(String::from)
    .to_vec()];
    for l in lines {
        rows.push(vec![
            l.name.clone(),
            l.product.clone(),
            l.unit.clone(),
            l.carried_over.to_string(),
            l.received.to_string(),
            l.dispensed.to_string(),
            l.returned.to_string(),
            l.disposed.to_string(),
            l.accident.to_string(),
            l.balance.to_string(),
        ]);
    }
    csv_of(rows)
}

/// The draft of an accident report (麻薬事故届) for an accident entry.
pub fn accident_report(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    product: &str,
    seq: i64,
) -> Result<String, LedgerError> {
    allowed(
        conn,
        ctx,
        pharmacy_id,
        "ledger.accident_report",
        format!("{product} #{seq}"),
    )?;
    let e: Entry = controlled_ledger::table
        .find((pharmacy_id, product, seq))
        .select(Entry::as_select())
        .first(conn)
        .optional()?
        .ok_or(LedgerError::NotFound)?;
    if e.kind != EntryKind::Accident.as_str() {
        return Err(super::invalid(
            "seq",
            "事故の記帳ではありません (not an accident entry)",
        ));
    }
    let name: String = controlled_stock::table
        .find((pharmacy_id, product))
        .select(controlled_stock::product_name)
        .first(conn)?;
    let (p_name, p_code, p_address, p_phone, founder): (String, String, String, String, String) =
        pharmacies::table
            .find(pharmacy_id)
            .select((
                pharmacies::name,
                pharmacies::code,
                pharmacies::address,
                pharmacies::phone,
                pharmacies::founder,
            ))
            .first(conn)?;
    Ok(format!(
        "麻薬事故届（下書き）\n\n\
         1. 届出者: {founder}\n\
         2. 麻薬小売業者の名称・所在地: {p_name}（薬局コード {p_code}） {p_address} TEL {p_phone}\n\
         3. 事故が生じた麻薬: {name}（YJ {product}） ロット {lot}\n\
         4. 数量: {quantity}{unit}（事故後の在庫 {after}{unit}）\n\
         5. 事故発生日時: {at}\n\
         6. 事故の状況（滅失・盗取・所在不明・破損の別と経緯）: {note}\n\
         7. 警察への届出・参照: {reference}\n\
         8. 記帳者: {actor}（台帳番号 #{seq}）\n\n\
         ※ 麻薬及び向精神薬取締法第35条により、速やかに都道府県知事へ届け出てください。\n",
        lot = e.lot,
        quantity = e.quantity,
        unit = e.unit,
        after = e.balance_after,
        at = jst(e.occurred_at),
        note = e.note,
        reference = e.reference,
        actor = e.actor,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_annual_period_runs_october_to_september() {
        let (from, to) = period(2026).unwrap();
        assert_eq!(from.to_string(), "2025-10-01");
        assert_eq!(to.to_string(), "2026-09-30");
    }
}
