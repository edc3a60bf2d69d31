//! Cold chain (DOMAIN.md §7): temperature readings of a delivery judged against
//! each product's own label range — excursions (start, end, min/max, duration),
//! gaps longer than twice the logger's interval, and the mean kinetic temperature
//! over the trip. Any excursion or gap, or no readings at all, means quarantine:
//! the check fails closed. MKT never justifies an excursion by itself.

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;

/// ΔH/R in kelvin (ΔH = 83.144 kJ/mol).
pub const DELTA_H_OVER_R: f64 = 10_000.0;

const KELVIN: f64 = 273.15;

/// One reading of a logger.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reading {
    pub at: NaiveDateTime,
    pub celsius: f64,
}

/// A product's storage range in °C (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LabelRange {
    pub min: f64,
    pub max: f64,
}

impl LabelRange {
    /// 日本薬局方 通則: 冷所 1-15 °C.
    pub const COOL_PLACE: LabelRange = LabelRange {
        min: 1.0,
        max: 15.0,
    };
    /// 常温 15-25 °C.
    pub const NORMAL: LabelRange = LabelRange {
        min: 15.0,
        max: 25.0,
    };
    /// 室温 1-30 °C.
    pub const ROOM: LabelRange = LabelRange {
        min: 1.0,
        max: 30.0,
    };

    /// Reads a label's range: `2-8`, `2〜8℃`, `-20--15`, or the words 冷所, 常温, 室温.
    pub fn parse(text: &str) -> Option<LabelRange> {
        let t: String = text
            .trim()
            .replace(['℃', '°', 'C', ' '], "")
            .replace(['〜', '~', '～'], "..");
        match t.as_str() {
            "冷所" => return Some(LabelRange::COOL_PLACE),
            "常温" => return Some(LabelRange::NORMAL),
            "室温" => return Some(LabelRange::ROOM),
            _ => {}
        }
        let (a, b) = if let Some((a, b)) = t.split_once("..") {
            (a.to_string(), b.to_string())
        } else {
            // `2-8` or `-20--15`: split at a '-' that follows a digit.
            let bytes: Vec<char> = t.chars().collect();
            let at =
                (1..bytes.len()).find(|&i| bytes[i] == '-' && bytes[i - 1].is_ascii_digit())?;
            (
                bytes[..at].iter().collect::<String>(),
                bytes[at + 1..].iter().collect::<String>(),
            )
        };
        let (min, max) = (a.parse::<f64>().ok()?, b.parse::<f64>().ok()?);
        (min.is_finite() && max.is_finite() && min < max).then_some(LabelRange { min, max })
    }

    /// Whether `celsius` is inside the range.
    pub fn contains(&self, celsius: f64) -> bool {
        celsius >= self.min && celsius <= self.max
    }
}

/// A stretch of readings outside the range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excursion {
    pub start: NaiveDateTime,
    /// The first reading back inside the range, or the last reading.
    pub end: NaiveDateTime,
    pub min: f64,
    pub max: f64,
    pub seconds: i64,
}

/// Two readings further apart than twice the logger's interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub seconds: i64,
}

/// MKT over `(hours, °C)` samples: `(ΔH/R) / -ln(Σ tᵢ·e^(-(ΔH/R)/Tᵢ) / Σ tᵢ)`, in °C.
/// None without positive time.
pub fn mkt_weighted(samples: &[(f64, f64)]) -> Option<f64> {
    let total: f64 = samples.iter().map(|(t, _)| t.max(0.0)).sum();
    if total <= 0.0 {
        return None;
    }
    let sum: f64 = samples
        .iter()
        .map(|(t, c)| t.max(0.0) * (-DELTA_H_OVER_R / (c + KELVIN)).exp())
        .sum();
    Some(DELTA_H_OVER_R / -(sum / total).ln() - KELVIN)
}

/// MKT of a trip: each reading stands for the time until the next one (the last
/// for one interval).
pub fn mkt(readings: &[Reading], interval: Duration) -> Option<f64> {
    let samples: Vec<(f64, f64)> = readings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let span = readings.get(i + 1).map(|n| n.at - r.at).unwrap_or(interval);
            (span.num_milliseconds() as f64 / 3_600_000.0, r.celsius)
        })
        .collect();
    mkt_weighted(&samples)
}

/// Excursions outside `range` (readings sorted by time).
pub fn excursions(readings: &[Reading], range: LabelRange) -> Vec<Excursion> {
    let mut out = Vec::new();
    let mut open: Option<Excursion> = None;
    for r in readings {
        match (&mut open, range.contains(r.celsius)) {
            (None, false) => {
                open = Some(Excursion {
                    start: r.at,
                    end: r.at,
                    min: r.celsius,
                    max: r.celsius,
                    seconds: 0,
                })
            }
            (Some(e), false) => {
                e.end = r.at;
                e.min = e.min.min(r.celsius);
                e.max = e.max.max(r.celsius);
            }
            (Some(_), true) => {
                if let Some(mut e) = open.take() {
                    e.end = r.at;
                    e.seconds = (e.end - e.start).num_seconds();
                    out.push(e);
                }
            }
            (None, true) => {}
        }
    }
    if let Some(mut e) = open {
        e.seconds = (e.end - e.start).num_seconds();
        out.push(e);
    }
    out
}

/// Gaps longer than twice `interval` (readings sorted by time).
pub fn gaps(readings: &[Reading], interval: Duration) -> Vec<Gap> {
    readings
        .windows(2)
        .filter(|w| w[1].at - w[0].at > interval * 2)
        .map(|w| Gap {
            from: w[0].at,
            to: w[1].at,
            seconds: (w[1].at - w[0].at).num_seconds(),
        })
        .collect()
}

/// What a delivery's readings say against one range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub readings: usize,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// °C, rounded to 0.01.
    pub mkt: Option<f64>,
    pub excursions: Vec<Excursion>,
    pub gaps: Vec<Gap>,
    /// Excursion, gap or no readings: the delivery waits for a pharmacist.
    pub quarantine: bool,
}

/// Analyses readings (any order; duplicates of one instant count once).
pub fn analyse(readings: &[Reading], range: LabelRange, interval: Duration) -> Analysis {
    let mut sorted = readings.to_vec();
    sorted.sort_by_key(|r| r.at);
    sorted.dedup_by(|a, b| a.at == b.at);
    let excursions = excursions(&sorted, range);
    let gaps = gaps(&sorted, interval);
    let fold = |f: fn(f64, f64) -> f64| sorted.iter().map(|r| r.celsius).reduce(f);
    Analysis {
        readings: sorted.len(),
        min: fold(f64::min),
        max: fold(f64::max),
        mkt: mkt(&sorted, interval).map(|m| (m * 100.0).round() / 100.0),
        quarantine: sorted.is_empty() || !excursions.is_empty() || !gaps.is_empty(),
        excursions,
        gaps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            + Duration::minutes(min)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.005
    }

    #[test]
    fn mkt_matches_the_domain_vectors() {
        for (samples, expected) in [
            (vec![(23.0, 5.0), (1.0, 20.0)], 6.551),
            (vec![(22.0, 5.0), (2.0, 25.0)], 9.825),
            (vec![(12.0, 2.0), (12.0, 8.0)], 5.536),
            (vec![(20.0, 6.0), (4.0, 15.0)], 8.321),
            (vec![(24.0, 4.2)], 4.2),
        ] {
            let m = mkt_weighted(&samples).unwrap();
            assert!(close(m, expected), "{samples:?}: {m} != {expected}");
        }
        assert_eq!(mkt_weighted(&[]), None);
        // From readings: 23 hourly readings at 5 °C, then one hour at 20 °C.
        let mut rs: Vec<Reading> = (0..23)
            .map(|h| Reading {
                at: at(h * 60),
                celsius: 5.0,
            })
            .collect();
        rs.push(Reading {
            at: at(23 * 60),
            celsius: 20.0,
        });
        assert!(close(mkt(&rs, Duration::hours(1)).unwrap(), 6.551));
    }

    #[test]
    fn excursions_and_gaps_put_the_delivery_in_quarantine() {
        let range = LabelRange::parse("2〜8℃").unwrap();
        let temps = [5.0, 5.5, 9.0, 11.0, 7.0, 6.0, 1.0, 1.5];
        let mut rs: Vec<Reading> = temps
            .iter()
            .enumerate()
            .map(|(i, c)| Reading {
                at: at(i as i64 * 5),
                celsius: *c,
            })
            .collect();
        let a = analyse(&rs, range, Duration::minutes(5));
        assert_eq!(a.excursions.len(), 2);
        assert_eq!(
            (a.excursions[0].start, a.excursions[0].end),
            (at(10), at(20))
        );
        assert_eq!((a.excursions[0].min, a.excursions[0].max), (9.0, 11.0));
        assert_eq!(a.excursions[0].seconds, 600);
        assert_eq!(a.excursions[1].end, at(35), "still out at the last reading");
        assert!(a.quarantine && a.gaps.is_empty());
        // A clean trip with one gap over twice the interval.
        rs = (0..6)
            .map(|i| Reading {
                at: at(i * 5),
                celsius: 5.0,
            })
            .collect();
        assert!(!analyse(&rs, range, Duration::minutes(5)).quarantine);
        rs.push(Reading {
            at: at(25 + 11),
            celsius: 5.0,
        });
        let a = analyse(&rs, range, Duration::minutes(5));
        assert_eq!(a.gaps.len(), 1);
        assert_eq!(a.gaps[0].seconds, 660);
        assert!(a.quarantine);
        // Exactly twice the interval is not a gap; no readings at all fails closed.
        rs.pop();
        rs.push(Reading {
            at: at(35),
            celsius: 5.0,
        });
        assert!(analyse(&rs, range, Duration::minutes(5)).gaps.is_empty());
        assert!(analyse(&[], range, Duration::minutes(5)).quarantine);
    }

    #[test]
    fn label_ranges_are_read_from_the_label() {
        assert_eq!(
            LabelRange::parse("2-8"),
            Some(LabelRange { min: 2.0, max: 8.0 })
        );
        assert_eq!(
            LabelRange::parse("2～8 °C"),
            Some(LabelRange { min: 2.0, max: 8.0 })
        );
        assert_eq!(
            LabelRange::parse("-25--15"),
            Some(LabelRange {
                min: -25.0,
                max: -15.0
            })
        );
        assert_eq!(LabelRange::parse("冷所"), Some(LabelRange::COOL_PLACE));
        assert_eq!(LabelRange::parse("8-2"), None);
        assert_eq!(LabelRange::parse("cold"), None);
        assert!(LabelRange::ROOM.contains(30.0) && !LabelRange::ROOM.contains(30.1));
    }
}
