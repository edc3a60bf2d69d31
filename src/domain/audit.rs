//! The audit trail's hash chain (pure part). Each row's hash covers its content and
//! the previous row's hash in the same chain (one chain per pharmacy, plus `system`
//! for events outside any pharmacy), so altering, deleting or inserting a row
//! breaks every later link.

use chrono::NaiveDateTime;
use ring::digest::{Context, SHA256};

/// The hash that precedes the first row of every chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Chain key for events that belong to no pharmacy (e.g. a sign-in with an unknown name).
pub const SYSTEM_CHAIN: &str = "system";

/// Outcome of an audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened.
    Ok,
    /// Refused by authorization, CSRF, rate limits or a wrong credential.
    Denied,
    /// Attempted and failed for another reason.
    Failed,
}

impl Outcome {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// Everything a row's hash covers, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContent<'a> {
    pub chain_key: &'a str,
    pub seq: i64,
    pub id: &'a str,
    pub occurred_at: NaiveDateTime,
    pub pharmacy_id: Option<&'a str>,
    pub actor_user_id: Option<&'a str>,
    pub actor_name: Option<&'a str>,
    pub action: &'a str,
    pub subject_type: Option<&'a str>,
    pub subject_id: Option<&'a str>,
    pub outcome: &'a str,
    pub client_addr: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub detail: &'a str,
}

fn field(ctx: &mut Context, value: Option<&str>) {
    // Length-prefixed so no two different field lists encode to the same bytes.
    match value {
        None => ctx.update(b"\x00"),
        Some(v) => {
            ctx.update(b"\x01");
            ctx.update(&(v.len() as u64).to_be_bytes());
            ctx.update(v.as_bytes());
        }
    }
}

/// SHA-256 (hex) over the previous hash and the row's content.
pub fn row_hash(prev_hash: &str, c: &AuditContent<'_>) -> String {
    let mut ctx = Context::new(&SHA256);
    field(&mut ctx, Some(prev_hash));
    field(&mut ctx, Some(c.chain_key));
    field(&mut ctx, Some(&c.seq.to_string()));
    field(&mut ctx, Some(c.id));
    field(
        &mut ctx,
        Some(&c.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
    );
    field(&mut ctx, c.pharmacy_id);
    field(&mut ctx, c.actor_user_id);
    field(&mut ctx, c.actor_name);
    field(&mut ctx, Some(c.action));
    field(&mut ctx, c.subject_type);
    field(&mut ctx, c.subject_id);
    field(&mut ctx, Some(c.outcome));
    field(&mut ctx, c.client_addr);
    field(&mut ctx, c.request_id);
    field(&mut ctx, Some(c.detail));
    hex::encode(ctx.finish().as_ref())
}

/// What is wrong with a chain, at the first row that does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The row's stored hash differs from the recomputed one (content altered).
    HashMismatch { seq: i64, id: String },
    /// The row does not link to its predecessor (a row before it was removed or
    /// one was inserted).
    LinkMismatch { seq: i64, id: String },
    /// Sequence numbers jump or repeat (rows deleted or inserted).
    SequenceGap {
        expected: i64,
        found: i64,
        id: String,
    },
    /// The chain ends before its recorded head (newest rows deleted).
    MissingTail { last_seq: i64, head_seq: i64 },
    /// Rows exist beyond the recorded head (rows appended outside the service).
    BeyondHead { seq: i64, id: String },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::HashMismatch { seq, id } => {
                write!(f, "row seq={seq} id={id}: content does not match its hash (altered)")
            }
            ChainBreak::LinkMismatch { seq, id } => write!(
                f,
                "row seq={seq} id={id}: does not link to the previous row (row removed or inserted before it)"
            ),
            ChainBreak::SequenceGap { expected, found, id } => write!(
                f,
                "row seq={found} id={id}: expected seq={expected} (rows deleted or inserted)"
            ),
            ChainBreak::MissingTail { last_seq, head_seq } => write!(
                f,
                "chain ends at seq={last_seq} but its head records seq={head_seq} (newest rows deleted)"
            ),
            ChainBreak::BeyondHead { seq, id } => write!(
                f,
                "row seq={seq} id={id}: beyond the chain head (row inserted outside the service)"
            ),
        }
    }
}

/// A stored row as read back for verification.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub seq: i64,
    pub id: String,
    pub prev_hash: String,
    pub hash: String,
    pub recomputed: String,
}

/// Checks a chain row by row, in `seq` order, without holding it all in memory.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev: String,
    head: Option<(i64, String)>,
}

impl ChainVerifier {
    /// `head` is the recorded (seq, hash) of the chain's newest row, if recorded.
    pub fn new(head: Option<(i64, String)>) -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev: GENESIS_HASH.to_string(),
            head,
        }
    }

    /// Checks the next row.
    pub fn push(&mut self, row: StoredRow) -> Result<(), ChainBreak> {
        let head_seq = self.head.as_ref().map(|h| h.0).unwrap_or(0);
        if row.seq > head_seq {
            return Err(ChainBreak::BeyondHead {
                seq: row.seq,
                id: row.id,
            });
        }
        if row.seq != self.expected_seq {
            return Err(ChainBreak::SequenceGap {
                expected: self.expected_seq,
                found: row.seq,
                id: row.id,
            });
        }
        if row.prev_hash != self.prev {
            return Err(ChainBreak::LinkMismatch {
                seq: row.seq,
                id: row.id,
            });
        }
        if row.recomputed != row.hash {
            return Err(ChainBreak::HashMismatch {
                seq: row.seq,
                id: row.id,
            });
        }
        self.prev = row.hash;
        self.expected_seq += 1;
        Ok(())
    }

    /// Checks that the chain reached its head; returns the number of rows.
    pub fn finish(self) -> Result<i64, ChainBreak> {
        let last = self.expected_seq - 1;
        if let Some((hseq, hhash)) = self.head {
            if last != hseq || (last > 0 && self.prev != hhash) {
                return Err(ChainBreak::MissingTail {
                    last_seq: last,
                    head_seq: hseq,
                });
            }
        }
        Ok(last)
    }
}

/// Walks one chain's rows in `seq` order and returns the first break, if any.
pub fn verify_chain(
    rows: impl IntoIterator<Item = StoredRow>,
    head: Option<(i64, String)>,
) -> Result<i64, ChainBreak> {
    let mut v = ChainVerifier::new(head);
    for row in rows {
        v.push(row)?;
    }
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(seq: i64, action: &str) -> (String, AuditContent<'static>) {
        let id: &'static str = Box::leak(format!("e{seq}").into_boxed_str());
        let action: &'static str = Box::leak(action.to_string().into_boxed_str());
        (
            id.to_string(),
            AuditContent {
                chain_key: "p1",
                seq,
                id,
                occurred_at: chrono::DateTime::from_timestamp(1_700_000_000 + seq, 123_000)
                    .unwrap()
                    .naive_utc(),
                pharmacy_id: Some("p1"),
                actor_user_id: Some("u1"),
                actor_name: Some("alice"),
                action,
                subject_type: Some("patient"),
                subject_id: Some("x"),
                outcome: "ok",
                client_addr: Some("127.0.0.1"),
                request_id: None,
                detail: "",
            },
        )
    }

    fn chain(n: i64) -> Vec<StoredRow> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let (id, c) = content(seq, "patient.read");
                let hash = row_hash(&prev, &c);
                let row = StoredRow {
                    seq,
                    id,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    recomputed: hash.clone(),
                };
                prev = hash;
                row
            })
            .collect()
    }

    fn head(rows: &[StoredRow]) -> Option<(i64, String)> {
        rows.last().map(|r| (r.seq, r.hash.clone()))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let rows = chain(5);
        let h = head(&rows);
        assert_eq!(verify_chain(rows, h), Ok(5));
        assert_eq!(verify_chain(Vec::new(), None), Ok(0));
    }

    #[test]
    fn any_field_changes_the_hash() {
        let (_, a) = content(1, "patient.read");
        let (_, mut b) = content(1, "patient.read");
        assert_eq!(row_hash(GENESIS_HASH, &a), row_hash(GENESIS_HASH, &b));
        b.actor_name = None;
        assert_ne!(row_hash(GENESIS_HASH, &a), row_hash(GENESIS_HASH, &b));
        assert_ne!(row_hash(GENESIS_HASH, &a), row_hash("ab", &a));
    }

    #[test]
    fn altered_deleted_and_inserted_rows_are_found_at_the_first_bad_row() {
        let rows = chain(5);
        let h = head(&rows);

        let mut altered = rows.clone();
        altered[2].recomputed = "tampered".into();
        assert_eq!(
            verify_chain(altered, h.clone()),
            Err(ChainBreak::HashMismatch {
                seq: 3,
                id: "e3".into()
            })
        );

        let mut deleted = rows.clone();
        deleted.remove(1);
        assert_eq!(
            verify_chain(deleted, h.clone()),
            Err(ChainBreak::SequenceGap {
                expected: 2,
                found: 3,
                id: "e3".into()
            })
        );

        let mut tail_deleted = rows.clone();
        tail_deleted.pop();
        assert!(matches!(
            verify_chain(tail_deleted, h.clone()),
            Err(ChainBreak::MissingTail {
                last_seq: 4,
                head_seq: 5
            })
        ));

        let mut appended = rows.clone();
        appended.push(StoredRow {
            seq: 6,
            id: "forged".into(),
            prev_hash: rows[4].hash.clone(),
            hash: "x".into(),
            recomputed: "x".into(),
        });
        assert!(matches!(
            verify_chain(appended, h.clone()),
            Err(ChainBreak::BeyondHead { seq: 6, .. })
        ));

        let mut relinked = rows.clone();
        relinked[3].prev_hash = "other".into();
        assert!(matches!(
            verify_chain(relinked, h),
            Err(ChainBreak::LinkMismatch { seq: 4, .. })
        ));
    }
}
