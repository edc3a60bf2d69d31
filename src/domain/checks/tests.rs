//! Table-driven tests of every rule and exception.

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
            name: "an NSAID suppository with an oral NSAID is a class duplicate",
            candidates: vec![cand(
                "voltaren-suppository",
                Rectal,
                &["ジクロフェナクナトリウム"],
            )],
            history: vec![hist(
                "loxonin",
                Oral,
                &["ロキソプロフェンナトリウム水和物"],
                3,
                14,
            )],
            expect: vec![(SameClass, "group:nsaid")],
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
