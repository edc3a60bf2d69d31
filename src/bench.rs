//! `pharmacy bench ...`: benchmarks that print their figures (run in CI by
//! scripts/test.sh; run with `--release` for production-like numbers).

use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate};

use crate::domain::checks::{check, CurrencyPolicy, Med, MedSource};
use crate::domain::drug_master::Route;
use crate::drugs::clinical::RULES;

/// Realistic products (ingredients, route) a pharmacy dispenses every day.
const FORMULARY: &[(&str, &[&str], Route)] = &[
    ("amlodipine", &["アムロジピンベシル酸塩"], Route::Oral),
    ("famotidine", &["ファモチジン"], Route::Oral),
    (
        "loxoprofen",
        &["ロキソプロフェンナトリウム水和物"],
        Route::Oral,
    ),
    ("rebamipide", &["レバミピド"], Route::Oral),
    ("magnesium-oxide", &["酸化マグネシウム"], Route::Oral),
    ("metformin", &["メトホルミン塩酸塩"], Route::Oral),
    (
        "sitagliptin",
        &["シタグリプチンリン酸塩水和物"],
        Route::Oral,
    ),
    (
        "atorvastatin",
        &["アトルバスタチンカルシウム水和物"],
        Route::Oral,
    ),
    ("candesartan", &["カンデサルタンシレキセチル"], Route::Oral),
    ("zolpidem", &["ゾルピデム酒石酸塩"], Route::Oral),
    ("acetaminophen", &["アセトアミノフェン"], Route::Oral),
    ("warfarin", &["ワルファリンカリウム"], Route::Oral),
    ("lansoprazole", &["ランソプラゾール"], Route::Oral),
    ("mecobalamin", &["メコバラミン"], Route::Oral),
    (
        "loxoprofen-tape",
        &["ロキソプロフェンナトリウム水和物"],
        Route::External,
    ),
    ("heparinoid", &["ヘパリン類似物質"], Route::External),
    ("clarithromycin", &["クラリスロマイシン"], Route::Oral),
    ("carbocisteine", &["カルボシステイン"], Route::Oral),
    ("montelukast", &["モンテルカストナトリウム"], Route::Oral),
    ("levocetirizine", &["レボセチリジン塩酸塩"], Route::Oral),
];

fn med(i: usize, source: MedSource, start: NaiveDate, days: u32) -> Med {
    let (code, ings, route) = FORMULARY[i % FORMULARY.len()];
    let ings: Vec<String> = ings.iter().map(|s| s.to_string()).collect();
    Med {
        id: format!("{code}-{i}"),
        source,
        drug: Some(RULES.drug(code, code, route, &ings)),
        code: code.into(),
        name: code.into(),
        start,
        days,
        as_needed: false,
    }
}

/// A patient's history: `n` dispensed items spread evenly over five years up to
/// `today`, 28-day supplies.
pub fn history(n: usize, today: NaiveDate) -> Vec<Med> {
    let span: i64 = 5 * 365;
    (0..n)
        .map(|i| {
            let ago = span - (i as i64 * span / n.max(1) as i64);
            med(i * 7 + 3, MedSource::Dispensed, today - Days::days(ago), 28)
        })
        .collect()
}

/// A 10-item prescription.
pub fn prescription(today: NaiveDate) -> Vec<Med> {
    (0..10)
        .map(|i| med(i, MedSource::Candidate, today, 14))
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Measures the in-process check for several history sizes; returns one line
/// per size (and prints them).
pub fn checks(iterations: usize) -> Vec<String> {
    let today = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap_or_default();
    let policy = CurrencyPolicy::default();
    let candidates = prescription(today);
    let mut lines = Vec::new();
    for n in [100, 1_500, 10_000] {
        let h = history(n, today);
        let mut times = Vec::with_capacity(iterations);
        let mut findings = 0;
        for _ in 0..iterations {
            let t = Instant::now();
            let r = check(&RULES, &candidates, &h, today, &policy);
            times.push(t.elapsed());
            findings = r.findings.len();
        }
        times.sort();
        let line = format!(
            "check 10 items vs {n:>6} history items: p50 {:>8.1} µs  p99 {:>8.1} µs  max {:>8.1} µs  ({} findings, {iterations} runs)",
            percentile(&times, 0.50).as_secs_f64() * 1e6,
            percentile(&times, 0.99).as_secs_f64() * 1e6,
            times.last().copied().unwrap_or_default().as_secs_f64() * 1e6,
            findings
        );
        println!("{line}");
        lines.push(line);
    }
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("target: p99 <= 1000 µs for 1,500 history items (this build: {build})");
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benchmark_workload_is_realistic() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let h = history(1_500, today);
        assert_eq!(h.len(), 1_500);
        let current = h
            .iter()
            .filter(|m| m.current_on(today, &CurrencyPolicy::default()))
            .count();
        assert!((1..=60).contains(&current), "{current} current items");
        let r = check(
            &RULES,
            &prescription(today),
            &h,
            today,
            &CurrencyPolicy::default(),
        );
        assert!(!r.findings.is_empty(), "the workload exercises the rules");
    }
}
