//! The original's reconciliation state machine, when it is due and overdue, how
//! long it is kept, what blocks a narcotic's handover before it arrives, and the
//! initials by which a clinic is asked about a patient.

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

/// Where an original stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OriginalState {
    /// 原本待ち
    Awaiting,
    /// 原本受領・一致 (passes straight on to reconciled)
    Matching,
    /// 原本受領・相違あり: a pharmacist must resolve each difference
    Discrepancies,
    /// 照合済み
    Reconciled,
}

impl OriginalState {
    /// From the stored text.
    pub fn parse(s: &str) -> Option<OriginalState> {
        Some(match s {
            "awaiting" => OriginalState::Awaiting,
            "matching" => OriginalState::Matching,
            "discrepancies" => OriginalState::Discrepancies,
            "reconciled" => OriginalState::Reconciled,
            _ => return None,
        })
    }

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            OriginalState::Awaiting => "awaiting",
            OriginalState::Matching => "matching",
            OriginalState::Discrepancies => "discrepancies",
            OriginalState::Reconciled => "reconciled",
        }
    }

    /// For staff.
    pub fn label(self) -> &'static str {
        match self {
            OriginalState::Awaiting => "原本待ち",
            OriginalState::Matching => "原本受領・一致",
            OriginalState::Discrepancies => "原本受領・相違あり",
            OriginalState::Reconciled => "照合済み",
        }
    }

    /// Whether the paper original is at the pharmacy.
    pub fn received(self) -> bool {
        self != OriginalState::Awaiting
    }

    /// The state after the original is registered with `differences` found: an
    /// exact match is reconciled at once. Only an awaited original can be registered.
    pub fn on_registered(self, differences: usize) -> Result<OriginalState, String> {
        match self {
            OriginalState::Awaiting if differences == 0 => Ok(OriginalState::Reconciled),
            OriginalState::Awaiting => Ok(OriginalState::Discrepancies),
            other => Err(format!(
                "原本は登録済みです（{}） (original already registered)",
                other.label()
            )),
        }
    }

    /// The state after a difference is resolved with `open_left` still open.
    pub fn on_resolved(self, open_left: usize) -> Result<OriginalState, String> {
        match self {
            OriginalState::Discrepancies if open_left == 0 => Ok(OriginalState::Reconciled),
            OriginalState::Discrepancies => Ok(OriginalState::Discrepancies),
            other => Err(format!(
                "解決する相違はありません（{}） (no discrepancy to resolve)",
                other.label()
            )),
        }
    }
}

/// When an original is due and overdue (DOMAIN.md §2; days configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginalPolicy {
    /// Overdue this many days after dispensing (default 7).
    pub due_days: i64,
    /// Escalated this many days after dispensing (default 14).
    pub escalate_days: i64,
    /// A clinic is asked again about the same prescription after this many days.
    pub repeat_days: i64,
}

impl Default for OriginalPolicy {
    fn default() -> Self {
        OriginalPolicy {
            due_days: 7,
            escalate_days: 14,
            repeat_days: 7,
        }
    }
}

impl OriginalPolicy {
    /// (due, escalation) dates for a prescription dispensed on `dispensed_on`.
    pub fn dates(&self, dispensed_on: NaiveDate) -> (NaiveDate, NaiveDate) {
        (
            dispensed_on + Duration::days(self.due_days),
            dispensed_on + Duration::days(self.escalate_days),
        )
    }

    /// Whether the clinic should be asked (again) today: overdue, and not asked
    /// within `repeat_days`, or escalated since the last request.
    pub fn should_request(
        &self,
        due_on: NaiveDate,
        escalate_on: NaiveDate,
        last_requested_on: Option<NaiveDate>,
        today: NaiveDate,
    ) -> bool {
        if today <= due_on {
            return false;
        }
        match last_requested_on {
            None => true,
            Some(last) => {
                (today - last).num_days() >= self.repeat_days
                    || (today > escalate_on && last <= escalate_on)
            }
        }
    }
}

/// How overdue an awaited original is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overdue {
    /// Not dispensed yet, or within the due days.
    No,
    /// Past the due date.
    Overdue,
    /// Past the escalation date.
    Escalated,
}

/// The overdue level of an original in `state`.
pub fn overdue(
    state: OriginalState,
    due_on: Option<NaiveDate>,
    escalate_on: Option<NaiveDate>,
    today: NaiveDate,
) -> Overdue {
    if state != OriginalState::Awaiting {
        return Overdue::No;
    }
    match (due_on, escalate_on) {
        (_, Some(e)) if today > e => Overdue::Escalated,
        (Some(d), _) if today > d => Overdue::Overdue,
        _ => Overdue::No,
    }
}

/// Keep the original until: 3 years after dispensing, 5 for 公費 patients
/// (DOMAIN.md §8). 29 February falls back to 28 February.
pub fn retention_until(dispensed_on: NaiveDate, public_expense: bool) -> NaiveDate {
    let years = if public_expense { 5 } else { 3 };
    let y = dispensed_on.year() + years;
    dispensed_on
        .with_year(y)
        .or_else(|| NaiveDate::from_ymd_opt(y, dispensed_on.month(), 28))
        .unwrap_or(dispensed_on)
}

/// What stops a copy-based prescription from being handed over (交付): a narcotic
/// (or a product whose narcotic flag is unknown) before its original arrives or
/// while the original's differences are open.
pub fn handover_blockers(
    narcotic: bool,
    narcotic_reason: &str,
    state: OriginalState,
    open_discrepancies: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    if narcotic && !state.received() {
        out.push(format!(
            "原本を受領するまで交付できません（{narcotic_reason}） (handover blocked until the original is received)"
        ));
    }
    if narcotic && open_discrepancies > 0 {
        out.push(format!(
            "原本との相違が{open_discrepancies}件未解決です (open discrepancies with the original)"
        ));
    }
    out
}

const KANA_INITIALS: &[(&str, char)] = &[
    ("アイウエオァィゥェォヴ", 'A'),
    ("カキクケコ", 'K'),
    ("ガギグゲゴ", 'G'),
    ("サスセソ", 'S'),
    ("シ", 'S'),
    ("ザズゼゾ", 'Z'),
    ("ジヂ", 'J'),
    ("タテト", 'T'),
    ("チ", 'C'),
    ("ツ", 'T'),
    ("ダデド", 'D'),
    ("ナニヌネノ", 'N'),
    ("ハヒヘホ", 'H'),
    ("フ", 'F'),
    ("バビブベボ", 'B'),
    ("パピプペポ", 'P'),
    ("マミムメモ", 'M'),
    ("ヤユヨャュョ", 'Y'),
    ("ラリルレロ", 'R'),
    ("ワヲ", 'W'),
    ("ン", 'N'),
];

/// Romaji initials of a kana name (family and given), e.g. 「ヤマダ タロウ」 → `Y.T.`,
/// used where a clinic must recognise a patient without being told the name.
pub fn initials(name_kana: &str) -> String {
    let n: String = name_kana.nfkc().collect();
    n.split(|c: char| c.is_whitespace() || c == '　')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.chars().next())
        .map(|c| {
            // Hiragana to katakana: the tables are in katakana.
            let c = if ('ぁ'..='ゖ').contains(&c) {
                char::from_u32(c as u32 + 0x60).unwrap_or(c)
            } else {
                c
            };
            let letter = KANA_INITIALS
                .iter()
                .find(|(set, _)| set.contains(c))
                .map(|(_, l)| *l)
                .unwrap_or_else(|| c.to_ascii_uppercase());
            format!("{letter}.")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn state_machine() {
        use OriginalState::*;
        assert_eq!(Awaiting.on_registered(0), Ok(Reconciled));
        assert_eq!(Awaiting.on_registered(2), Ok(Discrepancies));
        assert!(Reconciled.on_registered(0).is_err());
        assert!(Discrepancies.on_registered(0).is_err());
        assert_eq!(Discrepancies.on_resolved(1), Ok(Discrepancies));
        assert_eq!(Discrepancies.on_resolved(0), Ok(Reconciled));
        assert!(Awaiting.on_resolved(0).is_err());
        for s in [Awaiting, Matching, Discrepancies, Reconciled] {
            assert_eq!(OriginalState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn due_overdue_escalation_and_requests() {
        let p = OriginalPolicy::default();
        let (due, esc) = p.dates(d("2026-11-01"));
        assert_eq!((due, esc), (d("2026-11-08"), d("2026-11-15")));
        let st = OriginalState::Awaiting;
        assert_eq!(
            overdue(st, Some(due), Some(esc), d("2026-11-08")),
            Overdue::No
        );
        assert_eq!(
            overdue(st, Some(due), Some(esc), d("2026-11-09")),
            Overdue::Overdue
        );
        assert_eq!(
            overdue(st, Some(due), Some(esc), d("2026-11-16")),
            Overdue::Escalated
        );
        assert_eq!(
            overdue(
                OriginalState::Reconciled,
                Some(due),
                Some(esc),
                d("2026-12-16")
            ),
            Overdue::No
        );
        assert_eq!(overdue(st, None, None, d("2030-01-01")), Overdue::No);
        assert!(!p.should_request(due, esc, None, d("2026-11-08")));
        assert!(p.should_request(due, esc, None, d("2026-11-09")));
        assert!(!p.should_request(due, esc, Some(d("2026-11-09")), d("2026-11-10")));
        assert!(p.should_request(due, esc, Some(d("2026-11-09")), d("2026-11-16")));
        assert!(p.should_request(due, esc, Some(d("2026-11-16")), d("2026-11-23")));
        assert!(!p.should_request(due, esc, Some(d("2026-11-16")), d("2026-11-22")));
    }

    #[test]
    fn retention_three_or_five_years() {
        assert_eq!(retention_until(d("2026-11-21"), false), d("2029-11-21"));
        assert_eq!(retention_until(d("2026-11-21"), true), d("2031-11-21"));
        assert_eq!(retention_until(d("2028-02-29"), false), d("2031-02-28"));
    }

    #[test]
    fn narcotic_handover_needs_the_original() {
        use OriginalState::*;
        assert_eq!(handover_blockers(true, "麻薬", Awaiting, 0).len(), 1);
        assert_eq!(handover_blockers(true, "麻薬", Discrepancies, 1).len(), 1);
        assert!(handover_blockers(true, "麻薬", Reconciled, 0).is_empty());
        assert!(handover_blockers(false, "", Awaiting, 0).is_empty());
    }

    #[test]
    fn initials_from_kana() {
        assert_eq!(initials("ヤマダ タロウ"), "Y.T.");
        assert_eq!(initials("しみず　ちか"), "S.C.");
        assert_eq!(initials("ｽｽﾞｷ ﾊﾅｺ"), "S.H.");
    }
}
