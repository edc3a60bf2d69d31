//! iCalendar (RFC 5545) appointments for notice attachments: one VEVENT in
//! Asia/Tokyo with its VTIMEZONE, text escaped, lines folded at 75 octets, CRLF.

use chrono::{DateTime, Utc};

/// An appointment to put in a patient's calendar. Never put drug names here.
#[derive(Debug, Clone)]
pub struct Appointment {
    /// Globally unique and stable (an update keeps it; SEQUENCE grows).
    pub uid: String,
    pub sequence: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: String,
    pub description: String,
    pub location: String,
    /// CONFIRMED or CANCELLED.
    pub cancelled: bool,
    pub stamp: DateTime<Utc>,
}

/// Escapes TEXT values (RFC 5545 §3.3.11).
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            other => out.push(other),
        }
    }
    out
}

/// Folds a content line at 75 octets without splitting a UTF-8 character
/// (RFC 5545 §3.1); continuation lines start with one space.
pub fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
    out
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y%m%dT%H%M%S")
        .to_string()
}

/// The calendar file (`text/calendar; method=REQUEST` or `CANCEL`).
pub fn calendar(a: &Appointment) -> String {
    let method = if a.cancelled { "CANCEL" } else { "REQUEST" };
    let lines = [
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//pharmacy//notices//JA".to_string(),
        "CALSCALE:GREGORIAN".to_string(),
        format!("METHOD:{method}"),
        "BEGIN:VTIMEZONE".to_string(),
        "TZID:Asia/Tokyo".to_string(),
        "BEGIN:STANDARD".to_string(),
        "DTSTART:19700101T000000".to_string(),
        "TZOFFSETFROM:+0900".to_string(),
        "TZOFFSETTO:+0900".to_string(),
        "TZNAME:JST".to_string(),
        "END:STANDARD".to_string(),
        "END:VTIMEZONE".to_string(),
        "BEGIN:VEVENT".to_string(),
        format!("UID:{}", escape_text(&a.uid)),
        format!("SEQUENCE:{}", a.sequence),
        format!("DTSTAMP:{}", a.stamp.format("%Y%m%dT%H%M%SZ")),
        format!("DTSTART;TZID=Asia/Tokyo:{}", local(a.start)),
        format!("DTEND;TZID=Asia/Tokyo:{}", local(a.end)),
        format!("SUMMARY:{}", escape_text(&a.summary)),
        format!("DESCRIPTION:{}", escape_text(&a.description)),
        format!("LOCATION:{}", escape_text(&a.location)),
        format!(
            "STATUS:{}",
            if a.cancelled {
                "CANCELLED"
            } else {
                "CONFIRMED"
            }
        ),
        "END:VEVENT".to_string(),
        "END:VCALENDAR".to_string(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn appt() -> Appointment {
        Appointment {
            uid: "guidance-123@pharmacy".into(),
            sequence: 0,
            start: Utc.with_ymd_and_hms(2026, 12, 1, 1, 30, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 12, 1, 1, 45, 0).unwrap(),
            summary: "オンライン服薬指導（さくら薬局）".into(),
            description: "ご予約の時間になりましたら、メールのリンクから接続してください。お問い合わせ: 03-1234-5678, 受付時間 9:00-18:00; 土日休み".into(),
            location: "オンライン".into(),
            cancelled: false,
            stamp: Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn times_are_in_tokyo_with_a_timezone_block() {
        let c = calendar(&appt());
        assert!(c.contains("DTSTART;TZID=Asia/Tokyo:20261201T103000\r\n"));
        assert!(c.contains("DTEND;TZID=Asia/Tokyo:20261201T104500\r\n"));
        assert!(c.contains("TZID:Asia/Tokyo\r\n"));
        assert!(c.contains("DTSTAMP:20261121T000000Z\r\n"));
        assert!(c.starts_with("BEGIN:VCALENDAR\r\n") && c.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn lines_fold_at_75_octets_without_breaking_characters() {
        let c = calendar(&appt());
        for line in c.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        let unfolded = c.replace("\r\n ", "");
        assert!(unfolded.contains("お問い合わせ: 03-1234-5678\\, 受付時間 9:00-18:00\\; 土日休み"));
    }

    #[test]
    fn text_is_escaped_and_cancellation_is_marked() {
        assert_eq!(escape_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        let mut a = appt();
        a.cancelled = true;
        a.sequence = 2;
        let c = calendar(&a);
        assert!(c.contains("METHOD:CANCEL\r\n") && c.contains("STATUS:CANCELLED\r\n"));
        assert!(c.contains("SEQUENCE:2\r\n"));
    }
}
