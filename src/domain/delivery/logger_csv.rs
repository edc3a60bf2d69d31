//! Reading a temperature logger's CSV export. Loggers differ in their preamble, so
//! the reader accepts: metadata lines before the table (`Serial Number,ABC123`,
//! `シリアル番号: ABC123`, `Interval,300`), a header line, then rows of
//! `time,temperature[,...]`. Times are ISO 8601 with an offset, or without one in
//! Japan time (`2026-11-21 09:00:00`, `2026/11/21 9:00`). Any unreadable row is an
//! error naming its line: a partial import would hide a gap.

use chrono::{DateTime, NaiveDateTime};

use super::coldchain::Reading;

/// What a logger export holds.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggerExport {
    /// The serial number from the preamble, when given.
    pub serial: Option<String>,
    /// The recording interval in seconds from the preamble, when given.
    pub interval_seconds: Option<i32>,
    /// Readings, UTC.
    pub readings: Vec<Reading>,
}

/// Why an export cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CSV {line}行目: {message}")]
pub struct CsvError {
    pub line: usize,
    pub message: String,
}

/// Reads a time: with an offset (any zone), or Japan time without one. UTC out.
pub fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let t = s.trim().trim_matches('"');
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.naive_utc());
    }
    const LOCAL: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ];
    LOCAL
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .map(|l| l - chrono::Duration::hours(9))
}

/// A temperature in °C, within what a logger can read.
pub fn parse_celsius(s: &str) -> Option<f64> {
    let v: f64 = s.trim().trim_matches('"').parse().ok()?;
    (v.is_finite() && (-100.0..=100.0).contains(&v)).then_some(v)
}

fn meta_value(line: &str) -> Option<(String, String)> {
    let (k, v) = line.split_once([',', ':', '：'])?;
    Some((
        k.trim().trim_matches('"').to_lowercase(),
        v.trim()
            .trim_matches(|c| c == '"' || c == ',')
            .trim()
            .to_string(),
    ))
}

/// Reads an export (see the module comment).
pub fn parse(text: &str) -> Result<LoggerExport, CsvError> {
    let mut out = LoggerExport {
        serial: None,
        interval_seconds: None,
        readings: Vec::new(),
    };
    let mut in_table = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        let first = line.split(',').next().unwrap_or("");
        if let Some(at) = parse_time(first) {
            in_table = true;
            let cell = line.split(',').nth(1).unwrap_or("");
            let celsius = parse_celsius(cell).ok_or_else(|| CsvError {
                line: i + 1,
                message: format!("温度が読めません: {cell}"),
            })?;
            out.readings.push(Reading { at, celsius });
            continue;
        }
        if in_table {
            return Err(CsvError {
                line: i + 1,
                message: format!("日時が読めません: {first}"),
            });
        }
        if let Some((k, v)) = meta_value(line) {
            if k.contains("serial") || k.contains("シリアル") {
                out.serial = Some(v);
            } else if k.contains("interval") || k.contains("間隔") {
                out.interval_seconds = v
                    .trim_end_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .ok();
            }
        }
    }
    if out.readings.is_empty() {
        return Err(CsvError {
            line: 0,
            message: "記録がありません (no readings)".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_preamble_and_rows_in_japan_time() {
        let csv = "\u{feff}Serial Number,LG-001\nInterval,300 s\n\nDate/Time,Temperature(°C)\n2026-11-21 09:00:00,4.5\n2026/11/21 9:05,5.0\n2026-11-21T00:10:00Z,5.5\n";
        let e = parse(csv).unwrap();
        assert_eq!(e.serial.as_deref(), Some("LG-001"));
        assert_eq!(e.interval_seconds, Some(300));
        assert_eq!(e.readings.len(), 3);
        assert_eq!(e.readings[0].at.format("%H:%M").to_string(), "00:00");
        assert_eq!(e.readings[1].at.format("%H:%M").to_string(), "00:05");
        assert_eq!(e.readings[2].celsius, 5.5);
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let err = parse("time,temp\n2026-11-21 09:00,4\n2026-11-21 09:05,abc\n").unwrap_err();
        assert_eq!(err.line, 3);
        let err = parse("time,temp\n2026-11-21 09:00,4\nnot a time,4\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(parse("time,temp\n").is_err());
        assert!(parse("t,c\n2026-11-21 09:00,500\n").is_err());
    }
}
