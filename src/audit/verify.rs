//! `pharmacy audit verify`: walks every chain and reports the first row that does
//! not match (altered, deleted or inserted rows are all detected).

use std::collections::BTreeSet;

use diesel::prelude::*;

use crate::db::schema::{audit_chain_heads, audit_events};
use crate::db::DbConnection;
use crate::domain::audit::{row_hash, AuditContent, ChainBreak, ChainVerifier, StoredRow};

/// The result for one chain.
#[derive(Debug, Clone)]
pub struct ChainReport {
    pub chain_key: String,
    pub result: Result<i64, ChainBreak>,
}

type FullRow = (
    (String, i64, String, chrono::NaiveDateTime),
    (Option<String>, Option<String>, Option<String>, String),
    (Option<String>, Option<String>, String, Option<String>),
    (Option<String>, String, String, String),
);

const PAGE: i64 = 5_000;

/// Verifies every chain (every pharmacy, plus `system`).
pub fn verify_all(conn: &mut DbConnection) -> QueryResult<Vec<ChainReport>> {
    let heads: Vec<(String, i64, String)> = audit_chain_heads::table
        .select((
            audit_chain_heads::chain_key,
            audit_chain_heads::seq,
            audit_chain_heads::hash,
        ))
        .load(conn)?;
    let event_chains: Vec<String> = audit_events::table
        .select(audit_events::chain_key)
        .distinct()
        .load(conn)?;
    let mut chains: BTreeSet<String> = heads.iter().map(|h| h.0.clone()).collect();
    chains.extend(event_chains);
    let mut reports = Vec::new();
    for chain in chains {
        let head = heads
            .iter()
            .find(|h| h.0 == chain)
            .map(|h| (h.1, h.2.clone()));
        let result = verify_one(conn, &chain, head)?;
        reports.push(ChainReport {
            chain_key: chain,
            result,
        });
    }
    Ok(reports)
}

fn verify_one(
    conn: &mut DbConnection,
    chain: &str,
    head: Option<(i64, String)>,
) -> QueryResult<Result<i64, ChainBreak>> {
    use audit_events::dsl as a;
    let mut verifier = ChainVerifier::new(head);
    let mut after: i64 = i64::MIN;
    loop {
        let rows: Vec<FullRow> = a::audit_events
            .filter(a::chain_key.eq(chain))
            .filter(a::seq.gt(after))
            .order(a::seq.asc())
            .limit(PAGE)
            .select((
                (a::chain_key, a::seq, a::id, a::occurred_at),
                (a::pharmacy_id, a::actor_user_id, a::actor_name, a::action),
                (a::subject_type, a::subject_id, a::outcome, a::client_addr),
                (a::request_id, a::detail, a::prev_hash, a::hash),
            ))
            .load(conn)?;
        let n = rows.len() as i64;
        for row in rows {
            let (
                (chain_key, seq, id, occurred_at),
                (pharmacy_id, actor_user_id, actor_name, action),
                (subject_type, subject_id, outcome, client_addr),
                (request_id, detail, prev_hash, hash),
            ) = row;
            let content = AuditContent {
                chain_key: &chain_key,
                seq,
                id: &id,
                occurred_at,
                pharmacy_id: pharmacy_id.as_deref(),
                actor_user_id: actor_user_id.as_deref(),
                actor_name: actor_name.as_deref(),
                action: &action,
                subject_type: subject_type.as_deref(),
                subject_id: subject_id.as_deref(),
                outcome: &outcome,
                client_addr: client_addr.as_deref(),
                request_id: request_id.as_deref(),
                detail: &detail,
            };
            let recomputed = row_hash(&prev_hash, &content);
            after = seq;
            if let Err(b) = verifier.push(StoredRow {
                seq,
                id,
                prev_hash,
                hash,
                recomputed,
            }) {
                return Ok(Err(b));
            }
        }
        if n < PAGE {
            break;
        }
    }
    Ok(verifier.finish())
}
