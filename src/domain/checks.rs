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

/// A therapeutic group for class-duplicate checks.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    pub id: &'static str,
    /// Japanese name shown to pharmacists.
    pub name: &'static str,
    /// Ingredient base names (an ingredient belongs when its moiety starts with one).
    pub members: &'static [&'static str],
    /// Routes where membership counts (systemic use).
    pub routes: &'static [Route],
    pub source: &'static str,
}

/// One side of a contraindicated pair.
#[derive(Debug, Clone, Copy)]
pub struct Side {
    pub ingredients: &'static [&'static str],
    /// Routes the contraindication applies to (empty: any).
    pub routes: &'static [Route],
}

/// A contraindicated combination (併用禁忌) from package-insert text.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub id: &'static str,
    pub a: Side,
    pub b: Side,
    /// Why (mechanism / consequence), Japanese.
    pub reason: &'static str,
    /// Package insert(s) and section the pair is taken from.
    pub source: &'static str,
}

/// The curated rules a check runs against.
#[derive(Debug, Clone, Copy)]
pub struct RuleSet {
    pub version: &'static str,
    pub groups: &'static [Group],
    pub pairs: &'static [Pair],
}

/// Salt and hydrate words removed to compare active moieties (ロキソプロフェン
/// ナトリウム水和物 → ロキソプロフェン; モルヒネ塩酸塩水和物 and モルヒネ硫酸塩水和物
/// are both モルヒネ).
const SALT_SUFFIXES: &[&str] = &[
    "水和物",
    "塩酸塩",
    "硫酸塩",
    "臭化水素酸塩",
    "酒石酸塩",
    "マレイン酸塩",
    "フマル酸塩",
    "コハク酸塩",
    "クエン酸塩",
    "リン酸塩",
    "メシル酸塩",
    "ベシル酸塩",
    "トシル酸塩",
    "メタンスルホン酸塩",
    "安息香酸塩",
    "酢酸塩",
    "硝酸塩",
    "シュウ酸塩",
    "ナトリウム",
    "カリウム",
    "カルシウム",
    "マグネシウム",
    "エルブミン",
];

/// The active moiety of an ingredient name (see [`SALT_SUFFIXES`]). A remainder
/// shorter than three characters (塩化カリウム) is left whole.
pub fn moiety(ingredient: &str) -> String {
    let mut s = ingredient.replace([' ', '\u{3000}'], "");
    loop {
        let before = s.clone();
        for suf in SALT_SUFFIXES {
            if let Some(rest) = s.strip_suffix(suf) {
                if rest.chars().count() >= 3 && !rest.ends_with('化') {
                    s = rest.to_string();
                }
            }
        }
        if s == before {
            return s;
        }
    }
}

/// A product as the engine sees it: its route and active moieties, with the
/// curated groups and pair sides precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drug {
    pub code: String,
    pub name: String,
    pub route: Route,
    pub moieties: Vec<String>,
    pub groups: Vec<&'static str>,
    /// (pair index, side 0 = a / 1 = b)
    pub pair_sides: Vec<(usize, u8)>,
}

fn matches(moiety: &str, names: &[&str]) -> bool {
    names.iter().any(|n| moiety.starts_with(n))
}

impl RuleSet {
    /// Prepares a product for checking. `ingredients` are the master's names.
    pub fn drug(&self, code: &str, name: &str, route: Route, ingredients: &[String]) -> Drug {
        let moieties: Vec<String> = ingredients.iter().map(|i| moiety(i)).collect();
        let groups = self
            .groups
            .iter()
            .filter(|g| g.routes.contains(&route) && moieties.iter().any(|m| matches(m, g.members)))
            .map(|g| g.id)
            .collect();
        let mut pair_sides = Vec::new();
        for (i, p) in self.pairs.iter().enumerate() {
            for (side, s) in [(0u8, &p.a), (1u8, &p.b)] {
                let route_ok = s.routes.is_empty() || s.routes.contains(&route);
                if route_ok && moieties.iter().any(|m| matches(m, s.ingredients)) {
                    pair_sides.push((i, side));
                }
            }
        }
        Drug {
            code: code.to_string(),
            name: name.to_string(),
            route,
            moieties,
            groups,
            pair_sides,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drugs::clinical::RULES;
    use Route::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    const TODAY: (i32, u32, u32) = (2026, 11, 21);

    fn today() -> NaiveDate {
        d(TODAY.0, TODAY.1, TODAY.2)
    }

    fn med(
        id: &str,
        source: MedSource,
        route: Route,
        ingredients: &[&str],
        start: NaiveDate,
        days: u32,
    ) -> Med {
        let ings: Vec<String> = ingredients.iter().map(|s| s.to_string()).collect();
        Med {
            id: id.into(),
            source,
            drug: Some(RULES.drug(id, id, route, &ings)),
            code: id.into(),
            name: id.into(),
            start,
            days,
            as_needed: false,
        }
    }

    fn cand(id: &str, route: Route, ingredients: &[&str]) -> Med {
        med(id, MedSource::Candidate, route, ingredients, today(), 14)
    }

    fn hist(id: &str, route: Route, ingredients: &[&str], days_ago: i64, days: u32) -> Med {
        med(
            id,
            MedSource::Dispensed,
            route,
            ingredients,
            today() - Duration::days(days_ago),
            days,
        )
    }

    fn kinds(r: &CheckResult) -> Vec<(FindingKind, String)> {
        r.findings
            .iter()
            .map(|f| (f.kind, f.rule.clone()))
            .collect()
    }

    fn run(c: &[Med], h: &[Med]) -> CheckResult {
        check(&RULES, c, h, today(), &CurrencyPolicy::default())
    }

    #[test]
    fn table_of_rules_and_exceptions() {
        use FindingKind::*;
        struct Case {
            name: &'static str,
            candidates: Vec<Med>,
            history: Vec<Med>,
            expect: Vec<(FindingKind, &'static str)>,
        }
        let cases = vec![
            Case {
                name: "same ingredient, same route",
                candidates: vec![cand("famotidine-new", Oral, &["ファモチジン"])],
                history: vec![hist("famotidine-old", Oral, &["ファモチジン"], 3, 14)],
                expect: vec![(SameIngredient, "ingredient:ファモチジン/oral")],
            },
            Case {
                name: "same ingredient by another route is not a duplicate",
                candidates: vec![cand(
                    "loxonin-tape",
                    External,
                    &["ロキソプロフェンナトリウム水和物"],
                )],
                history: vec![hist(
                    "loxonin-tab",
                    Oral,
                    &["ロキソプロフェンナトリウム水和物"],
                    3,
                    14,
                )],
                expect: vec![],
            },
            Case {
                name: "an ingredient inside a combination product",
                candidates: vec![cand(
                    "pl",
                    Oral,
                    &[
                        "サリチルアミド",
                        "アセトアミノフェン",
                        "無水カフェイン",
                        "プロメタジンメチレンジサリチル酸塩",
                    ],
                )],
                history: vec![hist("calonal", Oral, &["アセトアミノフェン"], 2, 5)],
                expect: vec![(SameIngredient, "ingredient:アセトアミノフェン/oral")],
            },
            Case {
                name: "different salts of one moiety",
                candidates: vec![cand("ms-contin", Oral, &["モルヒネ硫酸塩水和物"])],
                history: vec![hist("morphine-hcl", Oral, &["モルヒネ塩酸塩水和物"], 1, 7)],
                expect: vec![(SameIngredient, "ingredient:モルヒネ/oral")],
            },
            Case {
                name: "same therapeutic group",
                candidates: vec![cand("nizatidine", Oral, &["ニザチジン"])],
                history: vec![hist("famotidine", Oral, &["ファモチジン"], 3, 14)],
                expect: vec![(SameClass, "group:h2")],
            },
            Case {
                name: "PPI and P-CAB are one group",
                candidates: vec![cand("takecab", Oral, &["ボノプラザンフマル酸塩"])],
                history: vec![hist("omeprazole", Oral, &["オメプラゾール"], 3, 14)],
                expect: vec![(SameClass, "group:ppi")],
            },
            Case {
                name: "topical NSAID with an oral one is not a class duplicate",
                candidates: vec![cand("celecox", Oral, &["セレコキシブ"])],
                history: vec![hist(
                    "loxonin-tape",
                    External,
                    &["ロキソプロフェンナトリウム水和物"],
                    3,
                    14,
                )],
                expect: vec![],
            },
            Case {
                name: "contraindicated pair, candidate side a",
                candidates: vec![cand("warfarin", Oral, &["ワルファリンカリウム"])],
                history: vec![hist("florid-gel", Oral, &["ミコナゾール"], 2, 7)],
                expect: vec![(Contraindicated, "pair:CI-001")],
            },
            Case {
                name: "contraindicated pair, candidate side b",
                candidates: vec![cand("florid-gel", Oral, &["ミコナゾール"])],
                history: vec![hist("warfarin", Oral, &["ワルファリンカリウム"], 10, 28)],
                expect: vec![(Contraindicated, "pair:CI-001")],
            },
            Case {
                name: "route restriction on a pair (vaginal miconazole)",
                candidates: vec![cand("florid-vaginal", External, &["ミコナゾール硝酸塩"])],
                history: vec![hist("warfarin", Oral, &["ワルファリンカリウム"], 10, 28)],
                expect: vec![],
            },
            Case {
                name: "nitrate patch with a PDE5 inhibitor",
                candidates: vec![cand("viagra", Oral, &["シルデナフィルクエン酸塩"])],
                history: vec![hist("frandol-tape", External, &["硝酸イソソルビド"], 5, 28)],
                expect: vec![(Contraindicated, "pair:CI-016")],
            },
            Case {
                name: "an ended supply period does not count",
                candidates: vec![cand("famotidine-new", Oral, &["ファモチジン"])],
                history: vec![hist("famotidine-old", Oral, &["ファモチジン"], 30, 14)],
                expect: vec![],
            },
            Case {
                name: "within the grace period it still counts",
                candidates: vec![cand("famotidine-new", Oral, &["ファモチジン"])],
                history: vec![hist("famotidine-old", Oral, &["ファモチジン"], 20, 14)],
                expect: vec![(SameIngredient, "ingredient:ファモチジン/oral")],
            },
            Case {
                name: "a future start does not count yet",
                candidates: vec![cand("famotidine-new", Oral, &["ファモチジン"])],
                history: vec![hist("famotidine-later", Oral, &["ファモチジン"], -3, 14)],
                expect: vec![],
            },
            Case {
                name: "two RPs of one prescription",
                candidates: vec![
                    cand("rp1-gaster", Oral, &["ファモチジン"]),
                    cand("rp2-famotidine", Oral, &["ファモチジン"]),
                ],
                history: vec![],
                expect: vec![(SameIngredient, "ingredient:ファモチジン/oral")],
            },
            Case {
                name: "no shared ingredient, no group, no pair",
                candidates: vec![cand("amlodipine", Oral, &["アムロジピンベシル酸塩"])],
                history: vec![hist("famotidine", Oral, &["ファモチジン"], 3, 14)],
                expect: vec![],
            },
            Case {
                name: "potassium chloride is not 'chloride'",
                candidates: vec![cand("kcl", Oral, &["塩化カリウム"])],
                history: vec![hist("nacl", Oral, &["塩化ナトリウム"], 1, 14)],
                expect: vec![],
            },
        ];
        for c in cases {
            let r = run(&c.candidates, &c.history);
            let got = kinds(&r);
            let want: Vec<(FindingKind, String)> =
                c.expect.iter().map(|(k, s)| (*k, s.to_string())).collect();
            assert_eq!(got, want, "case: {}", c.name);
            assert_eq!(r.disclaimer, NOT_IN_LIST);
        }
    }

    #[test]
    fn as_needed_and_external_items_use_windows() {
        let policy = CurrencyPolicy::default();
        let mut prn = hist(
            "loxonin-prn",
            Oral,
            &["ロキソプロフェンナトリウム水和物"],
            25,
            5,
        );
        prn.as_needed = true;
        assert!(
            prn.current_on(today(), &policy),
            "頓服 within its 30-day window"
        );
        prn.start = today() - Duration::days(31);
        assert!(!prn.current_on(today(), &policy));
        let tape = hist("tape", External, &["ケトプロフェン"], 20, 1);
        assert!(
            tape.current_on(today(), &policy),
            "external window, not supply days"
        );
    }

    #[test]
    fn unknown_codes_and_missing_ingredients_are_findings_never_silence() {
        let unknown = Med {
            id: "x".into(),
            source: MedSource::Candidate,
            drug: None,
            code: "999999999".into(),
            name: "不明な薬".into(),
            start: today(),
            days: 7,
            as_needed: false,
        };
        let r = run(std::slice::from_ref(&unknown), &[]);
        assert_eq!(
            kinds(&r),
            [(FindingKind::Unverifiable, "unknown-code".to_string())]
        );
        assert!(r.findings[0].message.contains("999999999"));

        let mut in_history = unknown.clone();
        in_history.source = MedSource::Declared;
        let r = run(
            &[cand("famotidine", Oral, &["ファモチジン"])],
            &[in_history],
        );
        assert_eq!(
            kinds(&r),
            [(FindingKind::Unverifiable, "unknown-code".to_string())]
        );

        let empty = cand("no-data", Oral, &[]);
        let r = run(&[empty], &[]);
        assert_eq!(
            kinds(&r),
            [(FindingKind::Unverifiable, "no-ingredient-data".to_string())]
        );
    }

    #[test]
    fn moieties_strip_salts_and_hydrates() {
        assert_eq!(
            moiety("ロキソプロフェンナトリウム水和物"),
            "ロキソプロフェン"
        );
        assert_eq!(moiety("エスシタロプラムシュウ酸塩"), "エスシタロプラム");
        assert_eq!(moiety("塩化カリウム"), "塩化カリウム");
        assert_eq!(
            moiety("イブプロフェン\u{3000}L-リシン"),
            "イブプロフェンL-リシン"
        );
    }
}
