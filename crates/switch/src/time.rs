//! Time as an input: the switch never reads a clock.
//!
//! A [`Time`] is a duration since an epoch that the driver chooses and keeps for the life of the
//! switch. The server passes the time since the UNIX epoch, so timestamps are meaningful in the
//! API and deadlines survive a restart; tests start at zero and step forward by hand.

use std::ops::Add;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, as the duration since the driver's epoch. Serialized as whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(Duration);

impl Time {
    /// The epoch itself.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// The time `since` after the epoch.
    pub const fn new(since: Duration) -> Time {
        Time(since)
    }

    /// The time `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Time {
        Time(Duration::from_millis(ms))
    }

    /// The duration since the epoch.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// Whole milliseconds since the epoch (saturating at `u64::MAX`).
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }

    /// `self + d`, or `None` past the end of `Duration`.
    pub fn checked_add(self, d: Duration) -> Option<Time> {
        self.0.checked_add(d).map(Time)
    }

    /// How long after `earlier` this is (zero if `earlier` is later).
    pub fn saturating_since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;

    /// Saturates instead of overflowing: a deadline that far out never fires.
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d))
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.as_millis())
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u64::deserialize(deserializer).map(Time::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_millis() {
        let t = Time::from_millis(1_500);
        assert_eq!(t + Duration::from_millis(500), Time::from_millis(2_000));
        assert_eq!(
            Time::from_millis(2_000).saturating_since(t),
            Duration::from_millis(500)
        );
        assert_eq!(t.saturating_since(Time::from_millis(2_000)), Duration::ZERO);
        assert_eq!(t.as_millis(), 1_500);
        assert_eq!(
            Time::new(Duration::MAX) + Duration::from_secs(1),
            Time::new(Duration::MAX)
        );
        assert_eq!(
            Time::new(Duration::MAX).checked_add(Duration::from_secs(1)),
            None
        );
        assert_eq!(serde_json::to_string(&t).unwrap(), "1500");
    }
}
