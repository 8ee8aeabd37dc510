//! The B2BUA's indexes, each knowing which call owns its entries, so that forgetting a call
//! or disarming one of its timers touches only that call's entries instead of scanning every
//! entry of every call.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

use callcomp_switch::CallRef;

/// A hash map with foldhash instead of SipHash: these maps are looked up several times per
/// message (dialogs by Call-ID and tag, transactions by key, calls by reference), where SipHash
/// over `String` keys showed in the profile. foldhash seeds each map at random, which is the
/// flooding defence (docs/decisions.md).
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A value that belongs to a call.
pub trait OwnedBy {
    /// The call it belongs to.
    fn owner(&self) -> CallRef;
}

impl<T> OwnedBy for (CallRef, T) {
    fn owner(&self) -> CallRef {
        self.0
    }
}

impl OwnedBy for CallRef {
    fn owner(&self) -> CallRef {
        *self
    }
}

/// A map whose values belong to calls, with the keys of each call kept beside it.
#[derive(Debug)]
pub struct ByCall<K, V> {
    map: FastMap<K, V>,
    keys: FastMap<CallRef, Vec<K>>,
}

impl<K, V> Default for ByCall<K, V> {
    fn default() -> Self {
        ByCall {
            map: FastMap::default(),
            keys: FastMap::default(),
        }
    }
}

impl<K: Hash + Eq + Clone, V: OwnedBy> ByCall<K, V> {
    /// Inserts `value` under `key`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = self.remove(&key);
        self.keys
            .entry(value.owner())
            .or_default()
            .push(key.clone());
        self.map.insert(key, value);
        old
    }

    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// Removes and returns the value under `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let value = self.map.remove(key)?;
        let owner = value.owner();
        if let Some(keys) = self.keys.get_mut(&owner) {
            if let Some(at) = keys.iter().position(|k| k == key) {
                keys.swap_remove(at);
            }
            if keys.is_empty() {
                self.keys.remove(&owner);
            }
        }
        Some(value)
    }

    /// Removes every entry of `call` except those `keep` says to keep.
    pub fn remove_call(&mut self, call: CallRef, keep: impl Fn(&V) -> bool) {
        let Some(keys) = self.keys.remove(&call) else {
            return;
        };
        let mut kept = Vec::new();
        for key in keys {
            match self.map.get(&key) {
                Some(value) if keep(value) => kept.push(key),
                Some(_) => {
                    self.map.remove(&key);
                }
                None => {}
            }
        }
        if !kept.is_empty() {
            self.keys.insert(call, kept);
        }
    }

    /// The entries of `call`.
    pub fn of_call(&self, call: CallRef) -> impl Iterator<Item = &V> {
        self.keys
            .get(&call)
            .into_iter()
            .flatten()
            .filter_map(|key| self.map.get(key))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Timers of calls, earliest first, with each call's armed timers kept beside them.
#[derive(Debug)]
pub struct Timers<T> {
    queue: BTreeSet<(Instant, CallRef, T)>,
    armed: FastMap<CallRef, Vec<(Instant, T)>>,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            queue: BTreeSet::new(),
            armed: FastMap::default(),
        }
    }
}

impl<T: Ord + Copy> Timers<T> {
    /// Arms `timer` of `call` at `at`.
    pub fn insert(&mut self, at: Instant, call: CallRef, timer: T) {
        if self.queue.insert((at, call, timer)) {
            self.armed.entry(call).or_default().push((at, timer));
        }
    }

    /// The earliest armed timer.
    pub fn first(&self) -> Option<&(Instant, CallRef, T)> {
        self.queue.first()
    }

    /// Takes the earliest timer if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, CallRef, T)> {
        let &(at, call, timer) = self.queue.first()?;
        if at > now {
            return None;
        }
        self.queue.pop_first();
        self.forget(call, |&(a, t)| a == at && t == timer);
        Some((at, call, timer))
    }

    /// Disarms every `timer` of `call`.
    pub fn disarm(&mut self, call: CallRef, timer: T) {
        let Some(armed) = self.armed.get_mut(&call) else {
            return;
        };
        for &(at, t) in armed.iter().filter(|(_, t)| *t == timer) {
            self.queue.remove(&(at, call, t));
        }
        self.forget(call, |&(_, t)| t == timer);
    }

    /// Disarms every timer of `call`.
    pub fn remove_call(&mut self, call: CallRef) {
        for (at, timer) in self.armed.remove(&call).unwrap_or_default() {
            self.queue.remove(&(at, call, timer));
        }
    }

    /// The number of armed timers.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn forget(&mut self, call: CallRef, which: impl Fn(&(Instant, T)) -> bool) {
        if let Some(armed) = self.armed.get_mut(&call) {
            armed.retain(|e| !which(e));
            if armed.is_empty() {
                self.armed.remove(&call);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const A: CallRef = CallRef(1);
    const B: CallRef = CallRef(2);

    #[test]
    fn removing_a_call_takes_only_its_entries_and_keeps_what_it_is_told() {
        let mut map: ByCall<&str, (CallRef, u8)> = ByCall::default();
        map.insert("a1", (A, 1));
        map.insert("a2", (A, 2));
        map.insert("b1", (B, 1));
        map.remove_call(A, |&(_, n)| n == 2);
        assert!(!map.contains_key(&"a1"));
        assert_eq!(map.get(&"a2"), Some(&(A, 2)));
        assert_eq!(map.get(&"b1"), Some(&(B, 1)));
        // The kept entry is still the call's: removing the call again without keeping it
        // takes it.
        map.remove_call(A, |_| false);
        assert!(!map.contains_key(&"a2"));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn a_key_moved_to_another_call_belongs_to_that_call_only() {
        let mut map: ByCall<&str, (CallRef, u8)> = ByCall::default();
        map.insert("k", (A, 1));
        assert_eq!(map.insert("k", (B, 2)), Some((A, 1)));
        map.remove_call(A, |_| false);
        assert_eq!(map.get(&"k"), Some(&(B, 2)));
        assert_eq!(map.remove(&"k"), Some((B, 2)));
        map.remove_call(B, |_| false);
        assert!(map.is_empty());
        assert!(map.keys.is_empty(), "no key list left behind");
    }

    #[test]
    fn timers_fire_in_order_and_disarm_by_call_and_kind() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut timers: Timers<u8> = Timers::default();
        timers.insert(at(30), A, 1);
        timers.insert(at(10), A, 2);
        timers.insert(at(20), B, 1);
        timers.insert(at(40), A, 1);
        timers.disarm(A, 1);
        assert_eq!(timers.len(), 2);
        assert_eq!(timers.pop_due(at(5)), None);
        assert_eq!(timers.pop_due(at(100)), Some((at(10), A, 2)));
        assert_eq!(timers.pop_due(at(100)), Some((at(20), B, 1)));
        assert!(timers.is_empty());
        assert!(timers.armed.is_empty(), "nothing left armed after firing");
        timers.insert(at(50), B, 3);
        timers.insert(at(60), A, 3);
        timers.remove_call(B);
        assert_eq!(timers.first(), Some(&(at(60), A, 3)));
    }
}
