//! Counting failed authentications and locking out who guesses passwords.
//!
//! Failures are counted per source address and per user name, each in a sliding window
//! (`auth.failure_window`). The failure that reaches the threshold (`auth.source_max_failures`,
//! `auth.user_max_failures`) locks that source or user for `auth.lockout`: meanwhile every
//! request that would need authentication from that source, or for that user, is refused
//! with `403` and no fresh challenge, so a guesser gets nothing to try the next password on.
//! A threshold of 0 never locks.
//!
//! Sans-IO: time comes in as milliseconds, so the tests move it by hand. The table is
//! bounded ([`MAX_ENTRIES`]): entries with no failure in the window and no lockout are
//! dropped when it fills, at most once per window; while it stays full of live entries, new
//! keys are not counted (the already counted ones keep their state).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

/// Most sources and users tracked at once.
pub const MAX_ENTRIES: usize = 65_536;

/// What is counted: a source address or a user name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A source IP address (the port is not part of it: a guesser changes ports freely).
    Source(IpAddr),
    /// A configured user name.
    User(String),
}

impl Key {
    /// `source` or `user`, for logs and metric labels.
    pub fn scope(&self) -> &'static str {
        match self {
            Key::Source(_) => "source",
            Key::User(_) => "user",
        }
    }
}

/// The thresholds and times, from `[auth]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures from one source that lock it; 0: never.
    pub source_max_failures: u32,
    /// Failures for one user that lock it; 0: never.
    pub user_max_failures: u32,
    /// The sliding window in which failures count.
    pub window: Duration,
    /// How long a lockout lasts.
    pub lockout: Duration,
}

impl LockoutPolicy {
    fn max_for(&self, key: &Key) -> u32 {
        match key {
            Key::Source(_) => self.source_max_failures,
            Key::User(_) => self.user_max_failures,
        }
    }
}

/// The failure counts and lockouts.
#[derive(Debug)]
pub struct Lockout {
    policy: LockoutPolicy,
    entries: HashMap<Key, Entry>,
    next_prune_ms: u64,
}

#[derive(Debug, Default)]
struct Entry {
    /// Times of the failures within the window, oldest first (at most the threshold).
    failures: VecDeque<u64>,
    /// End of the lockout, when locked.
    locked_until: Option<u64>,
}

impl Lockout {
    /// No failures yet.
    pub fn new(policy: LockoutPolicy) -> Lockout {
        Lockout {
            policy,
            entries: HashMap::new(),
            next_prune_ms: 0,
        }
    }

    /// When `key` is locked at `now_ms`, the end of its lockout.
    pub fn locked_until(&self, key: &Key, now_ms: u64) -> Option<u64> {
        self.entries
            .get(key)
            .and_then(|e| e.locked_until)
            .filter(|&until| now_ms < until)
    }

    /// Counts one failure of `key` at `now_ms`; returns the end of the lockout when this
    /// failure started one.
    pub fn fail(&mut self, key: Key, now_ms: u64) -> Option<u64> {
        let max = self.policy.max_for(&key);
        if max == 0 || self.locked_until(&key, now_ms).is_some() {
            return None;
        }
        if !self.entries.contains_key(&key) && !self.make_room(now_ms) {
            return None;
        }
        let window = duration_ms(self.policy.window);
        let lockout = duration_ms(self.policy.lockout);
        let entry = self.entries.entry(key).or_default();
        entry.locked_until = None;
        let since = now_ms.saturating_sub(window);
        while entry.failures.front().is_some_and(|&t| t <= since) {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now_ms);
        if entry.failures.len() >= max as usize {
            entry.failures.clear();
            let until = now_ms.saturating_add(lockout);
            entry.locked_until = Some(until);
            return Some(until);
        }
        None
    }

    /// How many keys are tracked (for tests and inspection).
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }

    /// Whether a new key may be added, pruning idle entries first when the table is full.
    fn make_room(&mut self, now_ms: u64) -> bool {
        if self.entries.len() < MAX_ENTRIES {
            return true;
        }
        if now_ms >= self.next_prune_ms {
            self.next_prune_ms = now_ms.saturating_add(duration_ms(self.policy.window));
            let since = now_ms.saturating_sub(duration_ms(self.policy.window));
            self.entries.retain(|_, e| {
                e.locked_until.is_some_and(|until| now_ms < until)
                    || e.failures.back().is_some_and(|&t| t > since)
            });
        }
        self.entries.len() < MAX_ENTRIES
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000;

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            source_max_failures: 3,
            user_max_failures: 5,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
        }
    }

    fn src(last: u8) -> Key {
        Key::Source(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn the_threshold_failure_starts_the_lockout_and_it_ends_after_the_cool_down() {
        let mut l = Lockout::new(policy());
        assert_eq!(l.fail(src(1), T0), None);
        assert_eq!(l.fail(src(1), T0 + 1_000), None);
        assert_eq!(l.locked_until(&src(1), T0 + 1_000), None);
        // The third failure within the minute locks for five minutes from then.
        assert_eq!(l.fail(src(1), T0 + 2_000), Some(T0 + 302_000));
        assert_eq!(l.locked_until(&src(1), T0 + 2_000), Some(T0 + 302_000));
        assert_eq!(l.locked_until(&src(1), T0 + 301_999), Some(T0 + 302_000));
        // Failures while locked do not extend it.
        assert_eq!(l.fail(src(1), T0 + 100_000), None);
        assert_eq!(l.locked_until(&src(1), T0 + 302_000), None);
        // Another source is not affected.
        assert_eq!(l.locked_until(&src(2), T0 + 2_000), None);
        // After the cool-down the count starts again from zero.
        assert_eq!(l.fail(src(1), T0 + 302_000), None);
        assert_eq!(l.fail(src(1), T0 + 303_000), None);
        assert_eq!(l.fail(src(1), T0 + 304_000), Some(T0 + 604_000));
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let mut l = Lockout::new(policy());
        l.fail(src(1), T0);
        l.fail(src(1), T0 + 30_000);
        // The first failure left the window at T0 + 60 s.
        assert_eq!(l.fail(src(1), T0 + 60_000), None);
        assert_eq!(l.locked_until(&src(1), T0 + 60_000), None);
        assert!(l.fail(src(1), T0 + 61_000).is_some());
    }

    #[test]
    fn users_have_their_own_threshold_and_zero_never_locks() {
        let mut l = Lockout::new(policy());
        let alice = Key::User("alice".into());
        for i in 0..4 {
            assert_eq!(l.fail(alice.clone(), T0 + i), None);
        }
        assert_eq!(l.fail(alice.clone(), T0 + 4), Some(T0 + 300_004));
        assert_eq!(alice.scope(), "user");
        assert_eq!(src(1).scope(), "source");

        let mut never = Lockout::new(LockoutPolicy {
            source_max_failures: 0,
            ..policy()
        });
        for i in 0..100 {
            assert_eq!(never.fail(src(1), T0 + i), None);
        }
        assert_eq!(never.tracked(), 0);
    }

    #[test]
    fn the_table_is_bounded_and_idle_entries_make_room() {
        let mut l = Lockout::new(policy());
        for i in 0..MAX_ENTRIES {
            let ip = IpAddr::from(std::net::Ipv6Addr::from(i as u128));
            l.fail(Key::Source(ip), T0);
        }
        assert_eq!(l.tracked(), MAX_ENTRIES);
        // Full of live entries: a new key is not counted.
        l.fail(src(9), T0 + 1_000);
        assert_eq!(l.tracked(), MAX_ENTRIES);
        // Once the window has passed the idle entries go and the new key is counted.
        l.fail(src(9), T0 + 61_000);
        assert_eq!(l.tracked(), 1);
        for t in [62_000, 63_000] {
            l.fail(src(9), T0 + t);
        }
        assert!(l.locked_until(&src(9), T0 + 63_000).is_some());
    }
}
