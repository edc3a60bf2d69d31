//! When to try outbound work again: exponential backoff with jitter, capped, and a
//! deadline after which a job is declared dead (shown to staff, never dropped).

use chrono::{DateTime, Duration, Utc};

/// Backoff policy.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay before attempt `attempts + 1`, after `attempts` failures (≥ 1):
    /// initial·2^(attempts-1), capped at `max`, then scaled by `jitter` in [0, 1]
    /// into [delay/2, delay] so retries of many jobs spread out.
    pub fn delay(&self, attempts: i32, jitter: f64) -> Duration {
        let exp = (attempts.max(1) - 1).min(30) as u32;
        let base = self
            .initial
            .num_milliseconds()
            .saturating_mul(1i64 << exp)
            .min(self.max.num_milliseconds());
        let j = jitter.clamp(0.0, 1.0);
        Duration::milliseconds(base / 2 + ((base / 2) as f64 * j) as i64)
    }
}

/// What happens to a job after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Give up: permanent failure.
    Failed,
    /// Give up: temporary failures lasted past the deadline.
    Dead,
}

/// Decides the next step after a failure.
pub fn after_failure(
    permanent: bool,
    attempts: i32,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
    backoff: Backoff,
    jitter: f64,
) -> AfterFailure {
    if permanent {
        return AfterFailure::Failed;
    }
    if now >= deadline {
        return AfterFailure::Dead;
    }
    AfterFailure::RetryAt(now + backoff.delay(attempts, jitter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> Backoff {
        Backoff {
            initial: Duration::seconds(30),
            max: Duration::minutes(30),
        }
    }

    #[test]
    fn delays_double_from_30_seconds_to_a_30_minute_cap() {
        assert_eq!(b().delay(1, 1.0), Duration::seconds(30));
        assert_eq!(b().delay(2, 1.0), Duration::seconds(60));
        assert_eq!(b().delay(3, 1.0), Duration::seconds(120));
        assert_eq!(b().delay(7, 1.0), Duration::minutes(30));
        assert_eq!(b().delay(100, 1.0), Duration::minutes(30));
    }

    #[test]
    fn jitter_spreads_within_half_to_full_delay() {
        assert_eq!(b().delay(2, 0.0), Duration::seconds(30));
        let mid = b().delay(2, 0.5);
        assert!(mid > Duration::seconds(30) && mid < Duration::seconds(60));
    }

    #[test]
    fn permanent_failures_stop_and_deadlines_kill() {
        let now = Utc::now();
        let later = now + Duration::hours(1);
        assert_eq!(
            after_failure(true, 1, now, later, b(), 0.5),
            AfterFailure::Failed
        );
        assert_eq!(
            after_failure(false, 3, later, later, b(), 0.5),
            AfterFailure::Dead
        );
        match after_failure(false, 1, now, later, b(), 1.0) {
            AfterFailure::RetryAt(t) => assert_eq!(t - now, Duration::seconds(30)),
            other => panic!("{other:?}"),
        }
    }
}
