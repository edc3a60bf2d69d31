//! When reminders of a booked session are due: about a week before (only when
//! booked that early), the day before and about an hour before, each switchable.
//! A reminder whose time has passed when the session is booked is not sent.

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;

/// Which reminders are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderPolicy {
    pub week_before: bool,
    pub day_before: bool,
    /// Minutes before the session for the last reminder; 0 turns it off.
    pub minutes_before: i64,
}

impl Default for ReminderPolicy {
    fn default() -> Self {
        ReminderPolicy {
            week_before: true,
            day_before: true,
            minutes_before: 60,
        }
    }
}

/// A reminder kind (also the notice kind's suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    WeekBefore,
    DayBefore,
    Soon,
}

impl ReminderKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::WeekBefore => "week_before",
            ReminderKind::DayBefore => "day_before",
            ReminderKind::Soon => "soon",
        }
    }
}

/// The reminders of a session starting at `starts_at`, booked (or moved) at
/// `booked_at`, with their due times (same clock for both).
pub fn schedule(
    booked_at: NaiveDateTime,
    starts_at: NaiveDateTime,
    policy: &ReminderPolicy,
) -> Vec<(ReminderKind, NaiveDateTime)> {
    let mut out = Vec::new();
    let mut push = |on: bool, kind, due: NaiveDateTime| {
        if on && due > booked_at && due < starts_at {
            out.push((kind, due));
        }
    };
    push(
        policy.week_before,
        ReminderKind::WeekBefore,
        starts_at - Duration::days(7),
    );
    push(
        policy.day_before,
        ReminderKind::DayBefore,
        starts_at - Duration::days(1),
    );
    push(
        policy.minutes_before > 0,
        ReminderKind::Soon,
        starts_at - Duration::minutes(policy.minutes_before),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn early_bookings_get_three_late_ones_fewer() {
        let p = ReminderPolicy::default();
        let start = dt("2026-12-10 10:00");
        let all = schedule(dt("2026-11-21 09:00"), start, &p);
        assert_eq!(
            all,
            [
                (ReminderKind::WeekBefore, dt("2026-12-03 10:00")),
                (ReminderKind::DayBefore, dt("2026-12-09 10:00")),
                (ReminderKind::Soon, dt("2026-12-10 09:00")),
            ]
        );
        let two = schedule(dt("2026-12-05 09:00"), start, &p);
        assert_eq!(two.len(), 2);
        let one = schedule(dt("2026-12-10 08:30"), start, &p);
        assert_eq!(one, [(ReminderKind::Soon, dt("2026-12-10 09:00"))]);
        assert!(schedule(dt("2026-12-10 09:30"), start, &p).is_empty());
        let off = ReminderPolicy {
            week_before: false,
            day_before: false,
            minutes_before: 0,
        };
        assert!(schedule(dt("2026-11-21 09:00"), start, &off).is_empty());
    }
}
