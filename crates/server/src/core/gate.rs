//! Write-ahead for what the engine does by itself (DESIGN §5): the events and SIP messages of a
//! step that queued store jobs leave only once those jobs have finished, and everything after
//! them waits behind them, so the order of the event stream and of the wire is kept.
//!
//! An application's own changes are already two-phase (nothing happens before the commit, see
//! [`completion`](super::completion)); this covers the rest: a request that expires, completes
//! or changes state rewrites or deletes its row, and its `complcancel`, its `completion` event
//! and its 486 to a camped-on caller go out after that write, so a crash in between cannot leave
//! a request that subscribers were told has ended but that the next start reloads.
//!
//! Jobs finish in the order they were queued (one ordered store queue), so a count of finished
//! jobs is enough to know which steps may go.

use std::collections::VecDeque;

/// The outputs held back, in order.
#[derive(Debug)]
pub struct Gate<T> {
    /// Jobs queued so far.
    queued: u64,
    /// Jobs finished so far.
    finished: u64,
    /// Held steps: the count of queued jobs they wait for, and their outputs.
    held: VecDeque<(u64, T)>,
}

impl<T> Default for Gate<T> {
    fn default() -> Self {
        Gate {
            queued: 0,
            finished: 0,
            held: VecDeque::new(),
        }
    }
}

impl<T> Gate<T> {
    /// A step queued `jobs` store jobs and produced `outputs`: returns them at once when they
    /// need not wait (no job of theirs or before them is unfinished), else holds them.
    pub fn step(&mut self, jobs: u64, outputs: T) -> Option<T> {
        self.queued += jobs;
        if self.held.is_empty() && self.finished >= self.queued {
            return Some(outputs);
        }
        self.held.push_back((self.queued, outputs));
        None
    }

    /// One job finished (committed or not: the engine has moved on either way); returns the
    /// outputs that may go now, oldest first.
    pub fn finished(&mut self) -> Vec<T> {
        self.finished += 1;
        let mut ready = Vec::new();
        while let Some((barrier, _)) = self.held.front() {
            if *barrier > self.finished {
                break;
            }
            if let Some((_, outputs)) = self.held.pop_front() {
                ready.push(outputs);
            }
        }
        ready
    }

    /// Everything still held (at shutdown, once no job can finish any more).
    pub fn release_all(&mut self) -> Vec<T> {
        self.held.drain(..).map(|(_, outputs)| outputs).collect()
    }

    /// Whether anything is held.
    pub fn is_holding(&self) -> bool {
        !self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_without_jobs_goes_at_once_unless_something_is_held_before_it() {
        let mut gate = Gate::default();
        assert_eq!(gate.step(0, "a"), Some("a"));
        // A step with two jobs waits for both; the steps after it wait behind it.
        assert_eq!(gate.step(2, "b"), None);
        assert_eq!(gate.step(0, "c"), None);
        assert_eq!(gate.step(1, "d"), None);
        assert!(gate.is_holding());
        assert!(gate.finished().is_empty(), "b waits for its second job");
        assert_eq!(gate.finished(), vec!["b", "c"]);
        assert_eq!(gate.step(0, "e"), None, "behind d");
        assert_eq!(gate.finished(), vec!["d", "e"]);
        assert!(!gate.is_holding());
        assert_eq!(gate.step(0, "f"), Some("f"));
    }

    #[test]
    fn release_all_gives_what_is_held_in_order() {
        let mut gate = Gate::default();
        assert_eq!(gate.step(1, 1), None);
        assert_eq!(gate.step(0, 2), None);
        assert_eq!(gate.release_all(), vec![1, 2]);
        assert!(!gate.is_holding());
    }
}
