//! The switch as the API reads it: the core owns the [`Switch`] by value and publishes a copy
//! of it to a `watch` channel the API's handle reads ([`Snapshots`]), only when the API asks
//! (`Command::Publish`, which every read handler sends first, `Core::catch_up`) and only if
//! the switch changed since the last copy. No lock is taken inside the state machine; a
//! reader holds an `Arc` of one published copy, so a view it builds is consistent in itself.
//!
//! On demand, not once per batch: a copy costs about 0.2 ms for 200 lines and 500 calls
//! (docs/benchmarks.md), which per batch under load would eat the CPU the core needs; asked
//! for by the reader, it costs nothing while nobody reads, and a read still reflects
//! everything the core did before the read was asked (a SIP response, an event or an answer
//! the client saw came from a step the core finished before it handled the request).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use callcomp_switch::Switch;
use tokio::sync::watch;

/// The core's switch, with the copy last published of it. Reading goes through [`Deref`];
/// any mutable access ([`DerefMut`]) marks it changed, to be published at the next
/// [`Published::publish`].
pub struct Published {
    switch: Switch,
    changed: bool,
    copies: watch::Sender<Arc<Switch>>,
}

impl Published {
    /// `switch`, published as it is now.
    pub fn new(switch: Switch) -> Published {
        let (copies, _) = watch::channel(Arc::new(switch.clone()));
        Published {
            switch,
            changed: false,
            copies,
        }
    }

    /// Publishes a copy of the switch if it changed since the last one; whether it did.
    pub fn publish(&mut self) -> bool {
        if !self.changed {
            return false;
        }
        self.changed = false;
        self.copies.send_replace(Arc::new(self.switch.clone()));
        true
    }

    /// A reader of the published copies.
    pub fn snapshots(&self) -> Snapshots {
        Snapshots {
            copies: self.copies.subscribe(),
        }
    }
}

impl Deref for Published {
    type Target = Switch;

    fn deref(&self) -> &Switch {
        &self.switch
    }
}

impl DerefMut for Published {
    fn deref_mut(&mut self) -> &mut Switch {
        self.changed = true;
        &mut self.switch
    }
}

/// The API's reader of the published switch.
#[derive(Clone)]
pub struct Snapshots {
    copies: watch::Receiver<Arc<Switch>>,
}

impl Snapshots {
    /// The switch as last published.
    pub fn latest(&self) -> Arc<Switch> {
        Arc::clone(&self.copies.borrow())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcomp_switch::{Line, SwitchConfig};

    fn published() -> Published {
        Published::new(Switch::new(SwitchConfig::default()))
    }

    #[test]
    fn a_change_is_seen_only_once_published() {
        let mut switch = published();
        let snapshots = switch.snapshots();
        switch
            .add_line(Line::new("alice", "sip:alice@example.com"))
            .unwrap();
        assert!(switch.line("alice").is_some());
        assert!(snapshots.latest().line("alice").is_none());
        assert!(switch.publish());
        assert!(snapshots.latest().line("alice").is_some());
    }

    #[test]
    fn reading_publishes_nothing_and_a_held_copy_stays_as_it_was() {
        let mut switch = published();
        let snapshots = switch.snapshots();
        assert!(switch.line("alice").is_none());
        assert!(!switch.publish(), "a read is not a change");
        let before = snapshots.latest();
        switch
            .add_line(Line::new("alice", "sip:alice@example.com"))
            .unwrap();
        assert!(switch.publish());
        assert!(!switch.publish(), "published once");
        assert!(before.line("alice").is_none());
        assert!(snapshots.latest().line("alice").is_some());
    }
}
