//! Transaction timers: their names, their durations (RFC 3261 §17 Table 4, RFC 6026 §8.11)
//! and the small set of armed timers each state machine keeps.
//!
//! Timers are values: a machine records the instant each armed timer is due and reports it
//! as [`Output::SetTimer`](super::Output::SetTimer). The driver wakes up at
//! [`poll_timeout`](super::ClientInvite::poll_timeout) and calls `on_timer(now)`; a timer
//! the machine has since disarmed simply does not fire, so drivers never need to cancel.

use std::fmt;
use std::time::{Duration, Instant};

/// The timers of RFC 3261 §17 (Table 4) and RFC 6026, plus the 200 ms provisional timer of
/// §17.2.1. Timer C belongs to proxies and is not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE request retransmission (client, unreliable transport only): T1, doubling.
    A,
    /// INVITE transaction timeout (client): 64*T1.
    B,
    /// Wait for response retransmissions after a non-2xx final (INVITE client).
    D,
    /// Non-INVITE request retransmission (client, unreliable only): T1 doubling up to T2.
    E,
    /// Non-INVITE transaction timeout (client): 64*T1.
    F,
    /// INVITE final response retransmission (server, unreliable only): T1 doubling up to T2.
    G,
    /// Wait for the ACK of a non-2xx final (INVITE server): 64*T1.
    H,
    /// Wait for ACK retransmissions (INVITE server, Confirmed): T4, zero on reliable.
    I,
    /// Wait for non-INVITE request retransmissions (server): 64*T1, zero on reliable.
    J,
    /// Wait for non-INVITE response retransmissions (client): T4, zero on reliable.
    K,
    /// Wait for INVITE retransmissions after a 2xx (server, Accepted; RFC 6026): 64*T1.
    L,
    /// Wait for 2xx retransmissions (INVITE client, Accepted; RFC 6026): 64*T1.
    M,
    /// Send `100 Trying` if the TU has not answered an INVITE within 200 ms (§17.2.1).
    Trying,
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Timer::A => "A",
            Timer::B => "B",
            Timer::D => "D",
            Timer::E => "E",
            Timer::F => "F",
            Timer::G => "G",
            Timer::H => "H",
            Timer::I => "I",
            Timer::J => "J",
            Timer::K => "K",
            Timer::L => "L",
            Timer::M => "M",
            Timer::Trying => "100-Trying",
        };
        f.write_str(name)
    }
}

/// The base intervals every timer derives from (RFC 3261 §17.1.1.1 and Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// Round-trip time estimate; default 500 ms.
    pub t1: Duration,
    /// Longest interval between retransmissions of non-INVITE requests and INVITE
    /// responses; default 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network; default 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> TimerConfig {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// How long the server waits before answering an INVITE with `100 Trying` itself.
pub const TRYING_DELAY: Duration = Duration::from_millis(200);

impl TimerConfig {
    /// 64*T1: Timers B, F, H, L, M, and J on unreliable transport.
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D: zero on reliable transport; otherwise at least 32 s, and never shorter than
    /// 64*T1 so it outlasts the server's retransmissions when T1 is raised.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timeout().max(Duration::from_secs(32))
        }
    }

    /// Timers I and K: T4 on unreliable transport, zero on reliable.
    pub fn linger(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer J: 64*T1 on unreliable transport, zero on reliable.
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timeout()
        }
    }

    /// The next retransmission interval after `current`, doubled and capped at T2 (Timers E
    /// and G).
    pub fn backoff(&self, current: Duration) -> Duration {
        current.saturating_mul(2).min(self.t2)
    }
}

/// The shortest delay a timer is armed with.
pub const MIN_DELAY: Duration = Duration::from_millis(1);

/// The timers one machine has armed, each with the instant it is due.
#[derive(Debug, Clone, Default)]
pub(crate) struct Armed {
    timers: Vec<(Timer, Instant)>,
}

impl Armed {
    /// Arms (or re-arms) `timer` to fire at `at`.
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.clear(timer);
        self.timers.push((timer, at));
    }

    /// Arms `timer` to fire `after` from `now` and reports it in `out`. A deadline beyond
    /// what `Instant` can hold (an absurd configuration) leaves the timer unarmed. No timer
    /// is due sooner than [`MIN_DELAY`] after arming, so a zero interval cannot spin.
    pub(crate) fn arm(
        &mut self,
        timer: Timer,
        now: Instant,
        after: Duration,
        out: &mut Vec<super::Output>,
    ) {
        self.clear(timer);
        if let Some(at) = now.checked_add(after.max(MIN_DELAY)) {
            self.set(timer, at);
            out.push(super::Output::SetTimer(timer, at));
        }
    }

    /// Disarms `timer`; nothing happens when it is not armed.
    pub(crate) fn clear(&mut self, timer: Timer) {
        self.timers.retain(|(t, _)| *t != timer);
    }

    /// Disarms every timer.
    pub(crate) fn clear_all(&mut self) {
        self.timers.clear();
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.timers.iter().map(|(_, at)| *at).min()
    }

    /// Removes and returns the earliest timer due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let (i, _) = self
            .timers
            .iter()
            .enumerate()
            .filter(|(_, (_, at))| *at <= now)
            .min_by_key(|(_, (timer, at))| (*at, *timer))?;
        Some(self.timers.swap_remove(i).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_4_defaults() {
        let c = TimerConfig::default();
        // (what, got, RFC 3261 Table 4 value)
        let rows: [(&str, Duration, Duration); 8] = [
            ("B/F/H = 64*T1", c.timeout(), Duration::from_secs(32)),
            ("D unreliable", c.timer_d(false), Duration::from_secs(32)),
            ("D reliable", c.timer_d(true), Duration::ZERO),
            (
                "I/K unreliable = T4",
                c.linger(false),
                Duration::from_secs(5),
            ),
            ("I/K reliable", c.linger(true), Duration::ZERO),
            ("J unreliable", c.timer_j(false), Duration::from_secs(32)),
            ("J reliable", c.timer_j(true), Duration::ZERO),
            (
                "E/G capped at T2",
                c.backoff(Duration::from_secs(3)),
                Duration::from_secs(4),
            ),
        ];
        for (what, got, want) in rows {
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn timer_d_follows_a_raised_t1() {
        let c = TimerConfig {
            t1: Duration::from_secs(1),
            ..TimerConfig::default()
        };
        assert_eq!(c.timer_d(false), Duration::from_secs(64));
    }

    #[test]
    fn armed_pops_in_deadline_order() {
        let t0 = Instant::now();
        let mut armed = Armed::default();
        armed.set(Timer::B, t0 + Duration::from_secs(32));
        armed.set(Timer::A, t0 + Duration::from_millis(500));
        armed.set(Timer::A, t0 + Duration::from_secs(1));
        assert_eq!(armed.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(armed.pop_due(t0), None);
        let late = t0 + Duration::from_secs(40);
        assert_eq!(armed.pop_due(late), Some(Timer::A));
        assert_eq!(armed.pop_due(late), Some(Timer::B));
        assert_eq!(armed.pop_due(late), None);
    }
}
