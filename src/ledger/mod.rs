//! The controlled-drug ledger (麻薬帳簿, and 向精神薬 records): a perpetual ledger per
//! pharmacy and product. Every entry — received, dispensed (written by the
//! dispensing itself, in its transaction), handed over, returned, disposed (with a
//! witness), accident — carries quantity, unit, lot, the balance after it, the
//! actor and a reference, and is hash-chained to the entry before. The chain's head
//! row is updated first in each entry's transaction: its row lock serialises
//! writers, so concurrent dispensings keep the balance exact, and the balance can
//! never go negative.

pub mod export;
pub mod verify;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::backend::is_unique_violation;
use crate::db::schema::{controlled_ledger, controlled_stock};
use crate::db::{write_transaction, DbConnection};
use crate::domain::delivery::ledger::{
    balance_after, entry_hash, BalanceError, EntryContent, EntryKind, GENESIS,
};
use crate::domain::drug_master::Flag;
use crate::domain::fields::FieldErrors;
use crate::domain::role::Permission;

/// Why a ledger operation failed. Nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error("権限がありません (not allowed)")]
    Forbidden(Denied),
    #[error("見つかりません (not found)")]
    NotFound,
    #[error("{product}: {source}")]
    Balance {
        product: String,
        #[source]
        source: BalanceError,
    },
    #[error("export: {0}")]
    Export(String),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<Denied> for LedgerError {
    fn from(d: Denied) -> Self {
        LedgerError::Forbidden(d)
    }
}

fn invalid(field: &str, m: impl Into<String>) -> LedgerError {
    let mut f = FieldErrors::new();
    f.add(field, m);
    LedgerError::Invalid(f)
}

/// A ledger entry as stored.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = controlled_ledger)]
pub struct Entry {
    pub product: String,
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub quantity: i64,
    pub unit: String,
    pub lot: String,
    pub balance_after: i64,
    pub actor: String,
    pub witness: String,
    pub reference: String,
    pub note: String,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: NaiveDateTime,
    pub prev_hash: String,
    pub hash: String,
}

/// A product's stock as the ledger stands.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = controlled_stock)]
pub struct Stock {
    pub product: String,
    pub product_name: String,
    /// narcotic or psychotropic
    pub category: String,
    pub unit: String,
    pub balance: i64,
    pub seq: i64,
}

/// What one entry records (the caller has checked who may write it).
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub product: &'a str,
    pub kind: EntryKind,
    pub quantity: i64,
    pub unit: &'a str,
    pub lot: &'a str,
    pub witness: &'a str,
    pub reference: &'a str,
    pub note: &'a str,
}

/// The controlled category of a product (narcotic first), or None when it is
/// neither. An unknown flag counts as controlled (fail closed).
pub fn category(narcotic: Flag, psychotropic: Flag) -> Option<&'static str> {
    match (narcotic, psychotropic) {
        (Flag::Yes | Flag::Unknown, _) => Some("narcotic"),
        (_, Flag::Yes | Flag::Unknown) => Some("psychotropic"),
        _ => None,
    }
}

/// Writes one entry inside the caller's transaction: takes the head row's lock
/// (a no-op update), checks the balance, chains the hash, inserts, moves the head.
pub(crate) fn append(
    c: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    e: &NewEntry<'_>,
) -> Result<Entry, LedgerError> {
    let product = crate::drugs::lookup(c, e.product)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            invalid(
                "product",
                "医薬品マスターにない薬品です (not in the drug master)",
            )
        })?;
    let Some(cat) = category(product.narcotic, product.psychotropic) else {
        return Err(invalid(
            "product",
            "麻薬・向精神薬ではありません (not a controlled drug)",
        ));
    };
    let key = (pharmacy_id, product.yj_code.as_str());
    let now = ctx.now.naive_utc();
    // The head row exists once per product; a racing first entry is harmless.
    let created = c.transaction(|c| {
        diesel::insert_into(controlled_stock::table)
            .values((
                controlled_stock::pharmacy_id.eq(pharmacy_id),
                controlled_stock::product.eq(&product.yj_code),
                controlled_stock::product_name.eq(&product.name),
                controlled_stock::category.eq(cat),
                controlled_stock::unit.eq(e.unit),
                controlled_stock::balance.eq(0i64),
                controlled_stock::seq.eq(0i64),
                controlled_stock::head_hash.eq(GENESIS),
                controlled_stock::updated_at.eq(now),
            ))
            .execute(c)
    });
    match created {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => {}
        Err(err) => return Err(err.into()),
    }
    // Lock the head (PostgreSQL row lock; SQLite holds the write lock already).
    diesel::update(controlled_stock::table.find(key))
        .set(controlled_stock::seq.eq(controlled_stock::seq))
        .execute(c)?;
    let (balance, seq, head, unit): (i64, i64, String, String) = controlled_stock::table
        .find(key)
        .select((
            controlled_stock::balance,
            controlled_stock::seq,
            controlled_stock::head_hash,
            controlled_stock::unit,
        ))
        .first(c)?;
    let next =
        balance_after(balance, e.kind, e.quantity).map_err(|source| LedgerError::Balance {
            product: product.name.clone(),
            source,
        })?;
    let content = EntryContent {
        pharmacy_id,
        product: &product.yj_code,
        seq: seq + 1,
        kind: e.kind.as_str(),
        quantity: e.quantity,
        unit: &unit,
        lot: e.lot,
        balance_after: next,
        actor: &ctx.actor.name,
        witness: e.witness,
        reference: e.reference,
        occurred_at: now,
    };
    let hash = entry_hash(&head, &content);
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(controlled_ledger::table)
        .values((
            controlled_ledger::pharmacy_id.eq(pharmacy_id),
            controlled_ledger::product.eq(&product.yj_code),
            controlled_ledger::seq.eq(seq + 1),
            controlled_ledger::id.eq(&id),
            controlled_ledger::kind.eq(e.kind.as_str()),
            controlled_ledger::quantity.eq(e.quantity),
            controlled_ledger::unit.eq(&unit),
            controlled_ledger::lot.eq(e.lot),
            controlled_ledger::balance_after.eq(next),
            controlled_ledger::actor.eq(&ctx.actor.name),
            controlled_ledger::witness.eq(e.witness),
            controlled_ledger::reference.eq(e.reference),
            controlled_ledger::note.eq(e.note),
            controlled_ledger::occurred_at.eq(now),
            controlled_ledger::prev_hash.eq(&head),
            controlled_ledger::hash.eq(&hash),
        ))
        .execute(c)?;
    diesel::update(controlled_stock::table.find(key))
        .set((
            controlled_stock::balance.eq(next),
            controlled_stock::seq.eq(seq + 1),
            controlled_stock::head_hash.eq(&hash),
            controlled_stock::updated_at.eq(now),
        ))
        .execute(c)?;
    audit::record(
        c,
        ctx,
        Event::ok(Some(pharmacy_id), "ledger.entry")
            .subject("controlled_product", &product.yj_code)
            .detail(format!(
                "#{} {} {}{} → {}{}",
                seq + 1,
                e.kind.as_str(),
                e.quantity,
                unit,
                next,
                unit
            )),
    )?;
    Ok(controlled_ledger::table
        .find((pharmacy_id, &product.yj_code, seq + 1))
        .select(Entry::as_select())
        .first(c)?)
}

/// An entry as submitted by staff (dispensing writes its own).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct EntryInput {
    /// YJ (or レセ電) code.
    pub product: String,
    /// received, handed_over, returned, disposed or accident
    pub kind: String,
    /// In the product's unit (e.g. tablets).
    pub quantity: i64,
    /// The unit, e.g. 錠 (set by the first entry of a product).
    pub unit: String,
    pub lot: String,
    /// Who witnessed a disposal.
    pub witness: String,
    /// Wholesaler slip, prescription id, police report number, ...
    pub reference: String,
    pub note: String,
}

/// Records an entry (pharmacists; audited). Dispensings are written by the
/// dispensing itself and cannot be entered here.
pub fn record(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    input: &EntryInput,
) -> Result<Entry, LedgerError> {
    crate::authz::require::<LedgerError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "ledger.entry",
        Some(("controlled_product", &input.product)),
    )?;
    let kind = EntryKind::parse(&input.kind)
        .filter(|k| *k != EntryKind::Dispensed)
        .ok_or_else(|| {
            invalid(
                "kind",
                "received, handed_over, returned, disposed, accident のいずれか（調剤は調剤の記録で記帳）",
            )
        })?;
    let witness = crate::domain::text::normalize(&input.witness);
    if kind.needs_witness() && witness.is_empty() {
        return Err(invalid(
            "witness",
            "廃棄には立会者が必要です (a disposal needs a witness)",
        ));
    }
    let reference = crate::domain::text::normalize(&input.reference);
    if kind == EntryKind::Accident && reference.is_empty() {
        return Err(invalid(
            "reference",
            "事故の届出先・番号などを入力してください (reference required)",
        ));
    }
    let unit = crate::domain::text::normalize(&input.unit);
    if unit.is_empty() {
        return Err(invalid("unit", "単位を入力してください (unit required)"));
    }
    let (lot, note) = (
        crate::domain::text::normalize(&input.lot),
        crate::domain::text::normalize(&input.note),
    );
    write_transaction(conn, |c| {
        append(
            c,
            ctx,
            pharmacy_id,
            &NewEntry {
                product: &input.product,
                kind,
                quantity: input.quantity,
                unit: &unit,
                lot: &lot,
                witness: &witness,
                reference: &reference,
                note: &note,
            },
        )
    })
}

/// Whether the pharmacy keeps a ledger for `product` (it has entries).
pub fn keeps_ledger(c: &mut DbConnection, pharmacy_id: &str, product: &str) -> QueryResult<bool> {
    let n: i64 = controlled_stock::table
        .find((pharmacy_id, product))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// The leading number of a dispensed quantity as written (`28錠`, `２８`, `14.0`).
pub fn whole_quantity(written: &str) -> Option<i64> {
    let t = crate::domain::text::normalize(written);
    let digits: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v: f64 = digits.parse().ok()?;
    (v > 0.0 && v.fract() == 0.0).then_some(v as i64)
}

/// The unit of a written quantity (`14錠` → `錠`), or `単位` when none is written.
pub fn unit_of(written: &str) -> String {
    let unit = crate::domain::text::normalize(written)
        .trim_start_matches(|ch: char| ch.is_ascii_digit() || ch == '.')
        .trim()
        .to_string();
    if unit.is_empty() {
        "単位".into()
    } else {
        unit
    }
}

/// The pharmacy's controlled stock (audited read).
pub fn stock(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
) -> Result<Vec<Stock>, LedgerError> {
    crate::authz::require::<LedgerError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "ledger.read",
        None,
    )?;
    let rows = controlled_stock::table
        .filter(controlled_stock::pharmacy_id.eq(pharmacy_id))
        .order(controlled_stock::product_name.asc())
        .select(Stock::as_select())
        .load(conn)?;
    audit::record_alone(conn, ctx, Event::ok(Some(pharmacy_id), "ledger.read"))?;
    Ok(rows)
}

/// A product's entries, oldest first (audited read).
pub fn entries(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    product: &str,
) -> Result<Vec<Entry>, LedgerError> {
    crate::authz::require::<LedgerError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "ledger.read",
        Some(("controlled_product", product)),
    )?;
    let rows = controlled_ledger::table
        .filter(controlled_ledger::pharmacy_id.eq(pharmacy_id))
        .filter(controlled_ledger::product.eq(product))
        .order(controlled_ledger::seq.asc())
        .select(Entry::as_select())
        .load(conn)?;
    audit::record_alone(
        conn,
        ctx,
        Event::ok(Some(pharmacy_id), "ledger.read").subject("controlled_product", product),
    )?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_whole_numbers_as_written() {
        assert_eq!(whole_quantity("28錠"), Some(28));
        assert_eq!(whole_quantity("２８錠"), Some(28));
        assert_eq!(whole_quantity("14.0"), Some(14));
        assert_eq!(whole_quantity("1.5g"), None);
        assert_eq!(whole_quantity("錠"), None);
        assert_eq!(whole_quantity("0"), None);
    }

    #[test]
    fn unknown_flags_count_as_controlled() {
        assert_eq!(category(Flag::Yes, Flag::No), Some("narcotic"));
        assert_eq!(category(Flag::No, Flag::Yes), Some("psychotropic"));
        assert_eq!(category(Flag::Unknown, Flag::No), Some("narcotic"));
        assert_eq!(category(Flag::No, Flag::No), None);
    }
}
