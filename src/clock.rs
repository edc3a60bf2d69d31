//! The service's notion of "now", injectable so tests can move time (session
//! timeouts, rate-limit windows, TOTP steps) without sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, DurationRound, Utc};

/// A source of the current time in UTC, truncated to microseconds so a value
/// survives a round trip through either database unchanged (audit hashes rely on it).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// Truncates to whole microseconds, the precision both backends store.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::microseconds(1)).unwrap_or(t)
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        to_micros(Utc::now())
    }
}

/// A clock that starts at the real time and only moves when told to (tests).
#[derive(Debug, Clone)]
pub struct ManualClock {
    offset: Arc<Mutex<Duration>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock reading the real time plus an adjustable offset.
    pub fn new() -> Self {
        ManualClock {
            offset: Arc::new(Mutex::new(Duration::zero())),
        }
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|p| p.into_inner());
        *offset += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = *self.offset.lock().unwrap_or_else(|p| p.into_inner());
        to_micros(Utc::now() + offset)
    }
}

/// Shared handle used throughout the service.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new();
        let before = clock.now();
        clock.advance(Duration::minutes(16));
        let after = clock.now();
        assert!(after - before >= Duration::minutes(16));
        assert!(after - before < Duration::minutes(17));
        assert_eq!(after.timestamp_subsec_nanos() % 1000, 0);
    }
}
