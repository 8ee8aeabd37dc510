//! The FIFO queue of one callee (DESIGN §2.3, RFC 6910 §5).
//!
//! Entries are ordered by the sequence number their request got at acceptance, which never
//! changes: a suspended entry or one whose recall found the callee busy again (retention)
//! keeps its place. Removal is by sequence number, so cancelling from the middle is cheap.

use std::collections::BTreeMap;

use crate::completion::request::CompletionId;

/// The waiting requests of one callee, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalleeQueue {
    entries: BTreeMap<u64, CompletionId>,
}

impl CalleeQueue {
    /// An empty queue.
    pub fn new() -> CalleeQueue {
        CalleeQueue::default()
    }

    /// Adds request `id` with place `seq` (a new request gets a higher `seq` than all before it).
    pub fn push(&mut self, seq: u64, id: CompletionId) {
        self.entries.insert(seq, id);
    }

    /// Removes the entry at place `seq`; whether there was one.
    pub fn remove(&mut self, seq: u64) -> bool {
        self.entries.remove(&seq).is_some()
    }

    /// The requests, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = CompletionId> + '_ {
        self.entries.values().copied()
    }

    /// The 1-based position of the entry at place `seq`, if it is queued.
    pub fn position(&self, seq: u64) -> Option<u32> {
        if !self.entries.contains_key(&seq) {
            return None;
        }
        let before = self.entries.range(..seq).count();
        u32::try_from(before + 1).ok()
    }

    /// How many requests wait.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> CompletionId {
        CompletionId::new(n).unwrap()
    }

    #[test]
    fn fifo_with_removal_from_the_middle() {
        let mut q = CalleeQueue::new();
        q.push(3, id(30));
        q.push(1, id(10));
        q.push(2, id(20));
        assert_eq!(q.iter().collect::<Vec<_>>(), [id(10), id(20), id(30)]);
        assert_eq!(q.position(3), Some(3));
        assert!(q.remove(2));
        assert!(!q.remove(2));
        assert_eq!(q.position(3), Some(2));
        assert_eq!(q.position(2), None);
        assert_eq!(q.len(), 2);
        assert!(!q.is_empty());
    }
}
