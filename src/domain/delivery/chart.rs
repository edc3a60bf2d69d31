//! The temperature chart of a delivery, rendered on the server as SVG (no
//! script, no external resources): the allowed band shaded, excursions in red,
//! gaps in grey with the line broken across them, Japan-time axis labels.

use chrono::{Duration, NaiveDateTime};

use super::coldchain::{Excursion, Gap, LabelRange, Reading};

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 30.0;

fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

fn open_svg(label: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}"><title>{label}</title>"#,
        w = n(W),
        h = n(H)
    )
}

/// Renders `readings` (UTC) against `range`, marking `excursions` and `gaps`.
pub fn temperature_svg(
    readings: &[Reading],
    range: Option<LabelRange>,
    excursions: &[Excursion],
    gaps: &[Gap],
) -> String {
    let mut pts: Vec<Reading> = readings
        .iter()
        .copied()
        .filter(|r| r.celsius.is_finite())
        .collect();
    pts.sort_by_key(|r| r.at);
    if pts.is_empty() {
        return format!(
            r#"{}<text x="{}" y="{}" text-anchor="middle" font-size="14">記録なし</text></svg>"#,
            open_svg("温度記録（記録なし）"),
            n(W / 2.0),
            n(H / 2.0)
        );
    }
    let (t0, t1) = (pts[0].at, pts[pts.len() - 1].at);
    let span = (t1.signed_duration_since(t0).num_seconds() as f64).max(60.0);
    // Plotting range: the readings and the band, clamped to what a logger can read.
    let mut lo = pts.iter().map(|r| r.celsius).fold(f64::INFINITY, f64::min);
    let mut hi = pts
        .iter()
        .map(|r| r.celsius)
        .fold(f64::NEG_INFINITY, f64::max);
    if let Some(g) = range.filter(|g| g.min.is_finite() && g.max.is_finite()) {
        lo = lo.min(g.min);
        hi = hi.max(g.max);
    }
    lo = (lo - 1.0).floor().max(-1000.0);
    hi = (hi + 1.0).ceil().min(1000.0);
    if hi <= lo {
        hi = lo + 1.0;
    }
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |t: NaiveDateTime| LEFT + ((t - t0).num_seconds() as f64 / span).clamp(0.0, 1.0) * pw;
    let y = |c: f64| TOP + (1.0 - ((c - lo) / (hi - lo)).clamp(0.0, 1.0)) * ph;
    let mut s = open_svg("温度記録");
    s.push_str(&format!(
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#fff" stroke="#d9dde3"/>"##,
        n(LEFT),
        n(TOP),
        n(pw),
        n(ph)
    ));
    if let Some(g) = range {
        s.push_str(&format!(
            r##"<rect class="band" x="{}" y="{}" width="{}" height="{}" fill="#dff3e4"><title>許容範囲 {}〜{}℃</title></rect>"##,
            n(LEFT),
            n(y(g.max)),
            n(pw),
            n((y(g.min) - y(g.max)).max(0.0)),
            n(g.min),
            n(g.max)
        ));
    }
    for e in excursions {
        s.push_str(&format!(
            r##"<rect class="excursion" x="{}" y="{}" width="{}" height="{}" fill="#f8d7da" opacity="0.8"><title>逸脱 {}〜{}℃</title></rect>"##,
            n(x(e.start)),
            n(TOP),
            n((x(e.end) - x(e.start)).max(2.0)),
            n(ph),
            n(e.min),
            n(e.max)
        ));
    }
    for g in gaps {
        s.push_str(&format!(
            r##"<rect class="gap" x="{}" y="{}" width="{}" height="{}" fill="#e2e3e5" opacity="0.8"><title>記録の欠落</title></rect>"##,
            n(x(g.from)),
            n(TOP),
            n((x(g.to) - x(g.from)).max(2.0)),
            n(ph)
        ));
    }
    // Y axis: about five ticks.
    let step = (((hi - lo) / 5.0).ceil()).max(1.0);
    let mut v = lo;
    let mut ticks = 0;
    while v <= hi + 1e-9 && ticks < 12 {
        ticks += 1;
        s.push_str(&format!(
            r##"<line x1="{l}" x2="{r}" y1="{yy}" y2="{yy}" stroke="#eef0f3"/><text x="{tx}" y="{ty}" text-anchor="end" font-size="11">{}℃</text>"##,
            n(v),
            l = n(LEFT),
            r = n(W - RIGHT),
            yy = n(y(v)),
            tx = n(LEFT - 4.0),
            ty = n(y(v) + 4.0)
        ));
        v += step;
    }
    // X axis: five time labels in Japan time.
    for i in 0..=4 {
        let t = t0
            .checked_add_signed(Duration::seconds((span * i as f64 / 4.0) as i64))
            .unwrap_or(t0);
        s.push_str(&format!(
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="11">{}</text>"#,
            n(x(t)),
            n(H - 10.0),
            // Japan time; at the very end of the calendar, UTC rather than a panic.
            t.checked_add_signed(Duration::hours(9))
                .unwrap_or(t)
                .format("%H:%M")
        ));
    }
    // The line, broken wherever a gap lies between two readings.
    let mut segments: Vec<Vec<&Reading>> = vec![Vec::new()];
    for (i, r) in pts.iter().enumerate() {
        let broken = i > 0
            && gaps
                .iter()
                .any(|g| g.from >= pts[i - 1].at && g.to <= r.at && g.to > g.from);
        if broken {
            segments.push(Vec::new());
        }
        if let Some(last) = segments.last_mut() {
            last.push(r);
        }
    }
    for seg in segments.iter().filter(|s| !s.is_empty()) {
        let points: Vec<String> = seg
            .iter()
            .map(|r| format!("{},{}", n(x(r.at)), n(y(r.celsius))))
            .collect();
        s.push_str(&format!(
            r##"<polyline fill="none" stroke="#0b6e4f" stroke-width="1.5" points="{}"/>"##,
            points.join(" ")
        ));
    }
    s.push_str("</svg>");
    s
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

    fn r(min: i64, c: f64) -> Reading {
        Reading {
            at: at(min),
            celsius: c,
        }
    }

    #[test]
    fn empty_says_so() {
        let s = temperature_svg(&[], None, &[], &[]);
        assert!(s.starts_with("<svg") && s.contains("記録なし") && s.ends_with("</svg>"));
    }

    #[test]
    fn band_excursion_and_a_broken_line() {
        let rs = [r(0, 4.0), r(5, 9.5), r(10, 5.0), r(40, 5.0), r(45, 5.0)];
        let exc = [Excursion {
            start: at(5),
            end: at(10),
            min: 9.5,
            max: 9.5,
            seconds: 300,
        }];
        let gaps = [Gap {
            from: at(10),
            to: at(40),
            seconds: 1800,
        }];
        let s = temperature_svg(&rs, Some(LabelRange { min: 2.0, max: 8.0 }), &exc, &gaps);
        assert!(s.contains(r#"xmlns="http://www.w3.org/2000/svg""#) && s.contains("<title>"));
        assert!(s.contains(r#"class="band""#) && s.contains(r#"class="excursion""#));
        assert_eq!(s.matches("<polyline").count(), 2, "the gap breaks the line");
        assert!(s.contains("09:00"), "Japan time labels");
    }

    #[test]
    fn odd_input_does_not_panic() {
        let s = temperature_svg(&[r(0, f64::NAN), r(0, 5.0)], None, &[], &[]);
        assert_eq!(s.matches("<polyline").count(), 1);
        let one = temperature_svg(
            &[r(0, 5.0)],
            Some(LabelRange { min: 2.0, max: 8.0 }),
            &[],
            &[],
        );
        assert!(one.contains("<polyline"));
    }
}
