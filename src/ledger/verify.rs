//! `pharmacy ledger verify`: walks every chain (pharmacy × product) from its first
//! entry, and reports the first entry whose sequence, link, hash or balance does
//! not hold — an altered, deleted or inserted entry — and a head that does not
//! match the last entry (entries removed from, or added to, the end).

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{controlled_ledger, controlled_stock};
use crate::db::DbConnection;
use crate::domain::delivery::ledger::{verify, Break, EntryContent, StoredEntry};

/// One chain's result.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub pharmacy_id: String,
    pub product: String,
    pub entries: usize,
    pub broken: Option<Break>,
}

type Row = (
    i64,
    String,
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    chrono::NaiveDateTime,
    String,
    String,
);

/// Verifies the chains of one pharmacy, or of all.
pub fn verify_chains(
    conn: &mut DbConnection,
    pharmacy_id: Option<&str>,
) -> QueryResult<Vec<ChainReport>> {
    let mut q = controlled_stock::table
        .select((
            controlled_stock::pharmacy_id,
            controlled_stock::product,
            controlled_stock::seq,
            controlled_stock::head_hash,
        ))
        .order((
            controlled_stock::pharmacy_id.asc(),
            controlled_stock::product.asc(),
        ))
        .into_boxed();
    if let Some(p) = pharmacy_id {
        q = q.filter(controlled_stock::pharmacy_id.eq(p));
    }
    let heads: Vec<(String, String, i64, String)> = q.load(conn)?;
    let mut out = Vec::with_capacity(heads.len());
    for (pharmacy, product, head_seq, head_hash) in heads {
        let rows: Vec<Row> = controlled_ledger::table
            .filter(controlled_ledger::pharmacy_id.eq(&pharmacy))
            .filter(controlled_ledger::product.eq(&product))
            .order(controlled_ledger::seq.asc())
            .select((
                controlled_ledger::seq,
                controlled_ledger::kind,
                controlled_ledger::quantity,
                controlled_ledger::unit,
                controlled_ledger::lot,
                controlled_ledger::balance_after,
                controlled_ledger::actor,
                controlled_ledger::witness,
                controlled_ledger::reference,
                controlled_ledger::occurred_at,
                controlled_ledger::prev_hash,
                controlled_ledger::hash,
            ))
            .load(conn)?;
        let stored: Vec<StoredEntry<'_>> = rows
            .iter()
            .map(|r| StoredEntry {
                content: EntryContent {
                    pharmacy_id: &pharmacy,
                    product: &product,
                    seq: r.0,
                    kind: &r.1,
                    quantity: r.2,
                    unit: &r.3,
                    lot: &r.4,
                    balance_after: r.5,
                    actor: &r.6,
                    witness: &r.7,
                    reference: &r.8,
                    occurred_at: r.9,
                },
                prev_hash: &r.10,
                hash: &r.11,
            })
            .collect();
        let mut broken = verify(&stored);
        if broken.is_none() {
            let (last_seq, last_hash) = rows
                .last()
                .map(|r| (r.0, r.11.as_str()))
                .unwrap_or((0, crate::domain::delivery::ledger::GENESIS));
            if last_seq != head_seq || last_hash != head_hash {
                broken = Some(Break {
                    seq: last_seq.min(head_seq) + 1,
                    reason: format!(
                        "台帳の最終記帳（#{head_seq}）と記帳（#{last_seq}）が一致しません (entries removed from or added to the end)"
                    ),
                });
            }
        }
        out.push(ChainReport {
            pharmacy_id: pharmacy.clone(),
            product: product.clone(),
            entries: rows.len(),
            broken,
        });
    }
    Ok(out)
}
