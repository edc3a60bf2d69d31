//! A pharmacist's availability for online guidance: weekly hours plus exceptions
//! (holidays, absences, changed hours), a slot length (default 15 min) and a buffer
//! between sessions. Slots are computed from these and the sessions already
//! booked; they are never stored one by one. Times are local (Asia/Tokyo).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Hours on one weekday (several ranges per day are allowed, e.g. morning and
/// afternoon).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyHours {
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// A dated exception: closed all day (holiday, absence), or other hours that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    Closed(NaiveDate),
    Hours {
        date: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
    },
}

impl Exception {
    fn date(&self) -> NaiveDate {
        match self {
            Exception::Closed(d) | Exception::Hours { date: d, .. } => *d,
        }
    }
}

/// Slot length and the buffer kept free after each session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SlotRules {
    pub slot_minutes: i64,
    pub buffer_minutes: i64,
}

impl Default for SlotRules {
    fn default() -> Self {
        SlotRules {
            slot_minutes: 15,
            buffer_minutes: 5,
        }
    }
}

impl SlotRules {
    /// Checks the rules: slots of 5-120 minutes, buffers of 0-60, both in 5-minute steps.
    pub fn validate(&self) -> Result<(), String> {
        if !(5..=120).contains(&self.slot_minutes) || self.slot_minutes % 5 != 0 {
            return Err("枠の長さは5〜120分（5分単位） (slot 5-120 minutes, in 5s)".into());
        }
        if !(0..=60).contains(&self.buffer_minutes) || self.buffer_minutes % 5 != 0 {
            return Err("間隔は0〜60分（5分単位） (buffer 0-60 minutes, in 5s)".into());
        }
        Ok(())
    }
}

/// A time range, local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Span {
    #[schema(value_type = String, format = DateTime)]
    pub start: NaiveDateTime,
    #[schema(value_type = String, format = DateTime)]
    pub end: NaiveDateTime,
}

impl Span {
    /// Whether two ranges share any time.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// The working ranges of `date`: the exception's hours, nothing when closed, else
/// the weekly hours of that weekday.
pub fn hours_on(date: NaiveDate, weekly: &[WeeklyHours], exceptions: &[Exception]) -> Vec<Span> {
    let todays: Vec<&Exception> = exceptions.iter().filter(|e| e.date() == date).collect();
    if todays.iter().any(|e| matches!(e, Exception::Closed(_))) {
        return Vec::new();
    }
    let special: Vec<Span> = todays
        .iter()
        .filter_map(|e| match e {
            Exception::Hours { start, end, .. } => Some(Span {
                start: date.and_time(*start),
                end: date.and_time(*end),
            }),
            Exception::Closed(_) => None,
        })
        .collect();
    if !special.is_empty() {
        return special;
    }
    weekly
        .iter()
        .filter(|w| w.weekday == date.weekday())
        .map(|w| Span {
            start: date.and_time(w.start),
            end: date.and_time(w.end),
        })
        .collect()
}

/// Free slots on `date`: consecutive slots from the start of each working range,
/// each followed by the buffer, without any overlap with `busy` (booked sessions,
/// each with its buffer) and not starting before `not_before`.
pub fn free_slots(
    date: NaiveDate,
    weekly: &[WeeklyHours],
    exceptions: &[Exception],
    rules: &SlotRules,
    busy: &[Span],
    not_before: NaiveDateTime,
) -> Vec<Span> {
    let len = Duration::minutes(rules.slot_minutes);
    let step = Duration::minutes(rules.slot_minutes + rules.buffer_minutes);
    let buffer = Duration::minutes(rules.buffer_minutes);
    let mut out = Vec::new();
    for range in hours_on(date, weekly, exceptions) {
        let mut t = range.start;
        while t + len <= range.end {
            let slot = Span {
                start: t,
                end: t + len,
            };
            let guarded = Span {
                start: t,
                end: t + len + buffer,
            };
            if t >= not_before && !busy.iter().any(|b| b.overlaps(&guarded)) {
                out.push(slot);
            }
            t += step;
        }
    }
    out
}

/// Whether a session `span` fits the pharmacist's hours on its day.
pub fn within_hours(span: &Span, weekly: &[WeeklyHours], exceptions: &[Exception]) -> bool {
    hours_on(span.start.date(), weekly, exceptions)
        .iter()
        .any(|h| h.start <= span.start && span.end <= h.end)
}

/// The 5-minute blocks a session occupies with its buffer: one stored row each, so
/// that a unique key makes two overlapping sessions of one pharmacist impossible
/// even when requests race.
pub fn blocks(span: &Span, buffer_minutes: i64) -> Vec<NaiveDateTime> {
    let end = span.end + Duration::minutes(buffer_minutes);
    let mut t = span.start;
    let mut out = Vec::new();
    while t < end {
        out.push(t);
        t += Duration::minutes(5);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn monday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn weekly() -> Vec<WeeklyHours> {
        vec![
            WeeklyHours {
                weekday: Weekday::Mon,
                start: t(9, 0),
                end: t(10, 0),
            },
            WeeklyHours {
                weekday: Weekday::Mon,
                start: t(14, 0),
                end: t(14, 30),
            },
        ]
    }

    #[test]
    fn slots_follow_hours_length_and_buffer() {
        let rules = SlotRules::default();
        let s = free_slots(
            monday(),
            &weekly(),
            &[],
            &rules,
            &[],
            monday().and_time(t(0, 0)),
        );
        let starts: Vec<String> = s
            .iter()
            .map(|x| x.start.format("%H:%M").to_string())
            .collect();
        assert_eq!(starts, ["09:00", "09:20", "09:40", "14:00"]);
        assert!(s.iter().all(|x| x.end - x.start == Duration::minutes(15)));
        // Tuesday has no hours.
        let tue = monday().succ_opt().unwrap();
        assert!(free_slots(tue, &weekly(), &[], &rules, &[], tue.and_time(t(0, 0))).is_empty());
    }

    #[test]
    fn exceptions_close_or_change_a_day() {
        let rules = SlotRules::default();
        let closed = [Exception::Closed(monday())];
        assert!(free_slots(
            monday(),
            &weekly(),
            &closed,
            &rules,
            &[],
            monday().and_time(t(0, 0))
        )
        .is_empty());
        let changed = [Exception::Hours {
            date: monday(),
            start: t(18, 0),
            end: t(18, 40),
        }];
        let s = free_slots(
            monday(),
            &weekly(),
            &changed,
            &rules,
            &[],
            monday().and_time(t(0, 0)),
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].start.time(), t(18, 0));
    }

    #[test]
    fn booked_sessions_and_the_past_remove_slots() {
        let rules = SlotRules::default();
        let busy = [Span {
            start: monday().and_time(t(9, 20)),
            end: monday().and_time(t(9, 40)),
        }];
        let s = free_slots(
            monday(),
            &weekly(),
            &[],
            &rules,
            &busy,
            monday().and_time(t(9, 1)),
        );
        let starts: Vec<String> = s
            .iter()
            .map(|x| x.start.format("%H:%M").to_string())
            .collect();
        // 09:00 is past; 09:20 is booked; 09:40 is free (its own buffer ends 10:00).
        assert_eq!(starts, ["09:40", "14:00"]);
    }

    #[test]
    fn blocks_cover_the_session_and_its_buffer() {
        let span = Span {
            start: monday().and_time(t(9, 0)),
            end: monday().and_time(t(9, 15)),
        };
        let b = blocks(&span, 5);
        assert_eq!(b.len(), 4);
        assert_eq!(b[3].time(), t(9, 15));
        let other = Span {
            start: monday().and_time(t(9, 10)),
            end: monday().and_time(t(9, 25)),
        };
        assert!(
            blocks(&other, 0).iter().any(|x| b.contains(x)),
            "overlap shares a block"
        );
        assert!(within_hours(&span, &weekly(), &[]));
        assert!(!within_hours(
            &other,
            &weekly(),
            &[Exception::Closed(monday())]
        ));
        assert!(SlotRules {
            slot_minutes: 7,
            buffer_minutes: 0
        }
        .validate()
        .is_err());
    }
}
