//! The controlled-drug ledger (麻薬帳簿, and 向精神薬 records; DOMAIN.md §8), pure
//! part: each entry's effect on the balance (which can never go negative), and the
//! hash chain over the entries of one pharmacy and product — each entry's hash
//! covers its content and the previous entry's hash, so an altered, deleted or
//! inserted entry is found at the first entry whose link no longer holds.

use chrono::NaiveDateTime;
use ring::digest::{Context, SHA256};
use serde::Serialize;

/// The hash before the first entry of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened to the stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// 譲受: received from a wholesaler (+).
    Received,
    /// 調剤: dispensed for a prescription (−).
    Dispensed,
    /// 交付: handed to the patient (no change: already out of stock when dispensed).
    HandedOver,
    /// Came back to the pharmacy (a failed delivery, a patient's return) (+).
    Returned,
    /// 廃棄: destroyed before a witness (−).
    Disposed,
    /// 事故: lost, stolen or broken (−).
    Accident,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [EntryKind; 6] = [
        EntryKind::Received,
        EntryKind::Dispensed,
        EntryKind::HandedOver,
        EntryKind::Returned,
        EntryKind::Disposed,
        EntryKind::Accident,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Received => "received",
            EntryKind::Dispensed => "dispensed",
            EntryKind::HandedOver => "handed_over",
            EntryKind::Returned => "returned",
            EntryKind::Disposed => "disposed",
            EntryKind::Accident => "accident",
        }
    }

    /// In the ledger's words.
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Received => "譲受",
            EntryKind::Dispensed => "調剤",
            EntryKind::HandedOver => "交付",
            EntryKind::Returned => "返納",
            EntryKind::Disposed => "廃棄",
            EntryKind::Accident => "事故",
        }
    }

    /// From the stored form.
    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }

    /// +1, −1 or 0: the direction of the balance.
    pub fn sign(self) -> i64 {
        match self {
            EntryKind::Received | EntryKind::Returned => 1,
            EntryKind::Dispensed | EntryKind::Disposed | EntryKind::Accident => -1,
            EntryKind::HandedOver => 0,
        }
    }

    /// Disposal needs a witness.
    pub fn needs_witness(self) -> bool {
        self == EntryKind::Disposed
    }
}

/// Why an entry cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalanceError {
    #[error("数量は1以上 (quantity must be positive)")]
    NotPositive,
    #[error("在庫 {balance} に対して {quantity} は払い出せません (the balance would go negative)")]
    Negative { balance: i64, quantity: i64 },
}

/// The balance after an entry of `quantity` (in the product's smallest unit).
pub fn balance_after(balance: i64, kind: EntryKind, quantity: i64) -> Result<i64, BalanceError> {
    if quantity <= 0 {
        return Err(BalanceError::NotPositive);
    }
    let next = balance + kind.sign() * quantity;
    if next < 0 {
        return Err(BalanceError::Negative { balance, quantity });
    }
    Ok(next)
}

/// Everything an entry's hash covers, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryContent<'a> {
    pub pharmacy_id: &'a str,
    pub product: &'a str,
    pub seq: i64,
    pub kind: &'a str,
    pub quantity: i64,
    pub unit: &'a str,
    pub lot: &'a str,
    pub balance_after: i64,
    pub actor: &'a str,
    pub witness: &'a str,
    pub reference: &'a str,
    pub occurred_at: NaiveDateTime,
}

fn field(ctx: &mut Context, v: &str) {
    // Length-prefixed so no two field lists encode to the same bytes.
    ctx.update(&(v.len() as u64).to_be_bytes());
    ctx.update(v.as_bytes());
}

/// SHA-256 (hex) over the previous hash and the entry's content.
pub fn entry_hash(prev: &str, c: &EntryContent<'_>) -> String {
    let mut ctx = Context::new(&SHA256);
    for v in [
        prev,
        c.pharmacy_id,
        c.product,
        &c.seq.to_string(),
        c.kind,
        &c.quantity.to_string(),
        c.unit,
        c.lot,
        &c.balance_after.to_string(),
        c.actor,
        c.witness,
        c.reference,
        &c.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
    ] {
        field(&mut ctx, v);
    }
    hex::encode(ctx.finish().as_ref())
}

/// A stored entry as the verifier sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry<'a> {
    pub content: EntryContent<'a>,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The entry's sequence number (or the number expected where one is missing).
    pub seq: i64,
    pub reason: String,
}

/// Checks one chain (entries in seq order): sequence numbers run 1, 2, 3 … without
/// holes, each links to the previous hash, each hash matches its content, and each
/// balance follows from the one before. Returns the first break.
pub fn verify(entries: &[StoredEntry<'_>]) -> Option<Break> {
    let mut prev = GENESIS.to_string();
    let mut balance = 0i64;
    for (i, e) in entries.iter().enumerate() {
        let expected = i as i64 + 1;
        let c = &e.content;
        if c.seq != expected {
            return Some(Break {
                seq: expected.min(c.seq),
                reason: format!("番号 {expected} の記帳がありません（{} が続いています） (entry missing or inserted)", c.seq),
            });
        }
        if e.prev_hash != prev {
            return Some(Break {
                seq: c.seq,
                reason: "前の記帳とのつながりが切れています (link to the previous entry broken)"
                    .into(),
            });
        }
        if entry_hash(&prev, c) != e.hash {
            return Some(Break {
                seq: c.seq,
                reason: "記帳内容が変更されています (content altered)".into(),
            });
        }
        let kind = EntryKind::parse(c.kind);
        let next = kind.and_then(|k| balance_after(balance, k, c.quantity).ok());
        if next != Some(c.balance_after) {
            return Some(Break {
                seq: c.seq,
                reason: format!(
                    "残高が合いません（前 {balance}、記帳 {}） (balance does not follow)",
                    c.balance_after
                ),
            });
        }
        balance = c.balance_after;
        prev = e.hash.to_string();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
    }

    struct Owned {
        kind: &'static str,
        seq: i64,
        quantity: i64,
        balance: i64,
        prev: String,
        hash: String,
    }

    fn chain(steps: &[(EntryKind, i64)]) -> Vec<Owned> {
        let mut out: Vec<Owned> = Vec::new();
        let mut balance = 0;
        for (i, (k, q)) in steps.iter().enumerate() {
            balance = balance_after(balance, *k, *q).unwrap();
            let prev = out.last().map(|o| o.hash.clone()).unwrap_or(GENESIS.into());
            let mut o = Owned {
                kind: k.as_str(),
                seq: i as i64 + 1,
                quantity: *q,
                balance,
                prev,
                hash: String::new(),
            };
            o.hash = entry_hash(&o.prev, &content(&o));
            out.push(o);
        }
        out
    }

    fn content(o: &Owned) -> EntryContent<'_> {
        EntryContent {
            pharmacy_id: "p1",
            product: "8119002G5020",
            seq: o.seq,
            kind: o.kind,
            quantity: o.quantity,
            unit: "錠",
            lot: "L1",
            balance_after: o.balance,
            actor: "pharm1",
            witness: "",
            reference: "",
            occurred_at: t(),
        }
    }

    fn stored(v: &[Owned]) -> Vec<StoredEntry<'_>> {
        v.iter()
            .map(|o| StoredEntry {
                content: content(o),
                prev_hash: &o.prev,
                hash: &o.hash,
            })
            .collect()
    }

    #[test]
    fn the_balance_never_goes_negative() {
        assert_eq!(balance_after(10, EntryKind::Dispensed, 10), Ok(0));
        assert_eq!(
            balance_after(10, EntryKind::Dispensed, 11),
            Err(BalanceError::Negative {
                balance: 10,
                quantity: 11
            })
        );
        assert_eq!(balance_after(0, EntryKind::HandedOver, 5), Ok(0));
        assert_eq!(
            balance_after(0, EntryKind::Received, 0),
            Err(BalanceError::NotPositive)
        );
        assert!(EntryKind::Disposed.needs_witness() && !EntryKind::Accident.needs_witness());
    }

    #[test]
    fn alterations_deletions_and_insertions_are_found_at_their_entry() {
        use EntryKind::*;
        let v = chain(&[
            (Received, 100),
            (Dispensed, 20),
            (HandedOver, 20),
            (Dispensed, 10),
            (Disposed, 5),
        ]);
        assert_eq!(verify(&stored(&v)), None);
        // Altered quantity of entry 2.
        let mut s = stored(&v);
        s[1].content.quantity = 2;
        assert_eq!(verify(&s).unwrap().seq, 2);
        // Entry 3 deleted.
        let mut s = stored(&v);
        s.remove(2);
        assert_eq!(verify(&s).unwrap().seq, 3);
        // An entry inserted after 2 with a forged seq: the link breaks at it.
        let mut s = stored(&v);
        let mut forged = s[2].clone();
        forged.content.kind = "received";
        s.insert(2, forged);
        for (i, e) in s.iter_mut().enumerate() {
            e.content.seq = i as i64 + 1;
        }
        assert_eq!(verify(&s).unwrap().seq, 3);
        // Deleting the last entry is not visible from the chain alone (the
        // stored head is compared by the caller).
        let mut s = stored(&v);
        s.pop();
        assert_eq!(verify(&s), None);
    }
}
