//! The medication check engine (pure): candidate items against the patient's
//! current medication from every source, and against each other. Findings:
//! same ingredient by the same route (重複投薬), same therapeutic group (同効薬
//! 重複), contraindicated pairs (併用禁忌) from the curated list, and anything that
//! could not be checked (unknown code, no ingredient data) — never silence.
//! "No finding" means "not in the checked list", never "no interaction".

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use super::drug_master::Route;

mod rules;
#[cfg(test)]
mod tests;

pub use rules::{moiety, Drug, Group, Pair, RuleSet, Side};

/// Where a medication comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MedSource {
    /// An item of the prescription being checked.
    Candidate,
    /// Dispensed by this pharmacy.
    Dispensed,
    /// Declared by the patient (OTC, other pharmacies).
    Declared,
    /// From the national drug information (薬剤情報).
    National,
}

/// One medication (candidate or history).
#[derive(Debug, Clone)]
pub struct Med {
    /// Identifies the item in findings (item id, dispensing record id, ...).
    pub id: String,
    pub source: MedSource,
    /// `None`: the code is not in the master (unverifiable).
    pub drug: Option<Drug>,
    /// The code and name as written, for unverifiable items.
    pub code: String,
    pub name: String,
    pub start: NaiveDate,
    /// Supply days (or times for 頓服).
    pub days: u32,
    /// 頓服 (as needed).
    pub as_needed: bool,
}

/// When a past medication still counts as taken.
#[derive(Debug, Clone, Copy)]
pub struct CurrencyPolicy {
    /// Days after the supply runs out that it still counts (leftovers, late refills).
    pub grace_days: i64,
    /// Window for 頓服 items from their start.
    pub as_needed_window_days: i64,
    /// Window for external preparations from their start.
    pub external_window_days: i64,
}

impl Default for CurrencyPolicy {
    fn default() -> Self {
        CurrencyPolicy {
            grace_days: 7,
            as_needed_window_days: 30,
            external_window_days: 30,
        }
    }
}

impl Med {
    /// Whether it is taken on `date` under `policy`.
    pub fn current_on(&self, date: NaiveDate, policy: &CurrencyPolicy) -> bool {
        if self.start > date {
            return false;
        }
        let external = self
            .drug
            .as_ref()
            .is_some_and(|d| d.route == Route::External);
        let last = if self.as_needed {
            self.start + Duration::days(policy.as_needed_window_days)
        } else if external {
            self.start + Duration::days(policy.external_window_days)
        } else {
            self.start + Duration::days(self.days.max(1) as i64 - 1 + policy.grace_days)
        };
        date <= last
    }
}

/// Kinds of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// 重複投薬: same ingredient, same route.
    SameIngredient,
    /// 同効薬の重複: same therapeutic group.
    SameClass,
    /// 併用禁忌
    Contraindicated,
    /// The item could not be checked (unknown code or no ingredient data).
    Unverifiable,
}

impl FindingKind {
    /// Stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::SameIngredient => "same_ingredient",
            FindingKind::SameClass => "same_class",
            FindingKind::Contraindicated => "contraindicated",
            FindingKind::Unverifiable => "unverifiable",
        }
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    High,
}

/// An item named in a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ItemRef {
    pub id: String,
    pub source: MedSource,
    pub code: String,
    pub name: String,
}

/// One finding, with the rule and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    /// The candidate item.
    pub item: ItemRef,
    /// The other item (a current medication or another candidate).
    pub other: Option<ItemRef>,
    /// e.g. `ingredient:ファモチジン/oral`, `group:ppi`, `pair:CI-001`, `unknown-code`.
    pub rule: String,
    /// Where the rule comes from.
    pub source: String,
    /// Explanation for the pharmacist (Japanese).
    pub message: String,
}

fn item_ref(m: &Med) -> ItemRef {
    ItemRef {
        id: m.id.clone(),
        source: m.source.clone(),
        code: m.code.clone(),
        name: m.name.clone(),
    }
}

/// The result of a check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckResult {
    pub findings: Vec<Finding>,
    /// Version of the curated rules used.
    pub rules_version: String,
    /// How many current medications were compared.
    pub current_count: usize,
    /// Always: absence of findings is not absence of interactions.
    pub disclaimer: String,
}

/// The disclaimer every result carries.
pub const NOT_IN_LIST: &str =
    "併用禁忌は収載リスト内のみ確認しています。該当なしは「確認したリストにない」ことを意味し、相互作用がないことを意味しません (not in the checked list; this does not mean no interaction)";

fn compare(rules: &RuleSet, a: &Med, da: &Drug, b: &Med, db: &Drug, out: &mut Vec<Finding>) {
    let shared: Vec<&String> = if da.route == db.route {
        da.moieties
            .iter()
            .filter(|m| db.moieties.contains(m))
            .collect()
    } else {
        Vec::new()
    };
    for m in &shared {
        out.push(Finding {
            kind: FindingKind::SameIngredient,
            severity: Severity::High,
            item: item_ref(a),
            other: Some(item_ref(b)),
            rule: format!("ingredient:{m}/{}", da.route.as_str()),
            source: "重複投薬 (same ingredient and route; ingredients from the drug master and the curated component table)".into(),
            message: format!("同一成分（{m}）・同一投与経路の重複です"),
        });
    }
    if shared.is_empty() {
        for g in da.groups.iter().filter(|g| db.groups.contains(g)) {
            if let Some(group) = rules.groups.iter().find(|x| x.id == *g) {
                out.push(Finding {
                    kind: FindingKind::SameClass,
                    severity: Severity::Warning,
                    item: item_ref(a),
                    other: Some(item_ref(b)),
                    rule: format!("group:{}", group.id),
                    source: group.source.into(),
                    message: format!("同効薬（{}）の重複です", group.name),
                });
            }
        }
    }
    for &(pi, side) in &da.pair_sides {
        if db.pair_sides.contains(&(pi, 1 - side)) {
            let p = &rules.pairs[pi];
            out.push(Finding {
                kind: FindingKind::Contraindicated,
                severity: Severity::High,
                item: item_ref(a),
                other: Some(item_ref(b)),
                rule: format!("pair:{}", p.id),
                source: p.source.into(),
                message: format!("併用禁忌: {}", p.reason),
            });
        }
    }
}

fn unverifiable(m: &Med, other: Option<&Med>, why: &str) -> Finding {
    Finding {
        kind: FindingKind::Unverifiable,
        severity: Severity::High,
        item: item_ref(m),
        other: other.map(item_ref),
        rule: why.into(),
        source: "fail closed: an item that cannot be checked is reported".into(),
        message: match why {
            "unknown-code" => format!("薬品コード {} がマスターにないため確認できません", m.code),
            _ => format!("{} の成分情報がないため確認できません", m.name),
        },
    }
}

fn checkable(m: &Med) -> Result<&Drug, &'static str> {
    match &m.drug {
        None => Err("unknown-code"),
        Some(d) if d.moieties.is_empty() => Err("no-ingredient-data"),
        Some(d) => Ok(d),
    }
}

/// Runs every rule: each candidate against the current medication on `date` and
/// against the other candidates.
pub fn check(
    rules: &RuleSet,
    candidates: &[Med],
    history: &[Med],
    date: NaiveDate,
    policy: &CurrencyPolicy,
) -> CheckResult {
    let current: Vec<&Med> = history
        .iter()
        .filter(|m| m.current_on(date, policy))
        .collect();
    let mut findings = Vec::new();
    for h in &current {
        if let Err(why) = checkable(h) {
            // An unknown current medication leaves every candidate unchecked against it.
            findings.push(unverifiable(h, None, why));
        }
    }
    for (i, a) in candidates.iter().enumerate() {
        let da = match checkable(a) {
            Ok(d) => d,
            Err(why) => {
                findings.push(unverifiable(a, None, why));
                continue;
            }
        };
        for b in candidates.iter().skip(i + 1) {
            if let Ok(db) = checkable(b) {
                compare(rules, a, da, b, db, &mut findings);
            }
        }
        for h in &current {
            if let Ok(dh) = checkable(h) {
                compare(rules, a, da, h, dh, &mut findings);
            }
        }
    }
    CheckResult {
        findings,
        rules_version: rules.version.into(),
        current_count: current.len(),
        disclaimer: NOT_IN_LIST.into(),
    }
}
