//! Calls as one line sees them (DESIGN §2, LINECALLINFO / LINECALLSTATUS subset).
//!
//! A call through the B2BUA appears once on each line it touches: as an outgoing call on the
//! caller's line and as an incoming call on the callee's line. Each appearance has its own
//! [`CallId`]; both share the [`CallRef`] the server gave the B2BUA call.

use std::fmt;
use std::num::NonZeroU32;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::facts::Failure;
use crate::tapi::{
    BusyMode, CallReason, CallState, CompletionMode, DisconnectMode, LINECALLFEATURE_COMPLETECALL,
};
use crate::time::Time;

/// The id of a call appearance: never 0, never shared by two live calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(NonZeroU32);

impl CallId {
    /// The id with this number, or `None` for 0.
    pub fn new(id: u32) -> Option<CallId> {
        NonZeroU32::new(id).map(CallId)
    }

    /// The number (never 0).
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The server's opaque handle for one B2BUA call (both of its SIP dialogs).
///
/// The switch only compares it; the server picks the numbers and must not reuse one while the
/// switch still knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallRef(pub u64);

impl fmt::Display for CallRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which way a call goes, from its line's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The line's phone is being called.
    In,
    /// The line's phone placed the call.
    Out,
}

/// The state-specific detail of a LINE_CALLSTATE (its `dwParam2`), for the states that have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateMode {
    /// Why the call is `busy`.
    Busy(BusyMode),
    /// Why the call is `disconnected`.
    Disconnected(DisconnectMode),
}

impl StateMode {
    /// The lower-case API name of the mode.
    pub const fn as_str(self) -> &'static str {
        match self {
            StateMode::Busy(m) => m.as_str(),
            StateMode::Disconnected(m) => m.as_str(),
        }
    }

    /// The TAPI value of the mode.
    pub const fn value(self) -> u32 {
        match self {
            StateMode::Busy(m) => m.value(),
            StateMode::Disconnected(m) => m.value(),
        }
    }
}

/// The call features (LINECALLSTATUS `dwCallFeatures` / `dwCallFeatures2`) that concern completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CallFeatures {
    /// `LINECALLFEATURE_*` bits: COMPLETECALL or nothing.
    pub features: u32,
    /// `LINECALLFEATURE2_COMPL*` bits of the modes that could be requested now.
    pub features2: u32,
}

impl CallFeatures {
    /// The features for exactly these requestable modes: COMPLETECALL iff there is at least one.
    pub fn from_modes(modes: &[CompletionMode]) -> CallFeatures {
        let features2 = modes.iter().fold(0, |bits, m| bits | m.feature2());
        let features = if modes.is_empty() {
            0
        } else {
            LINECALLFEATURE_COMPLETECALL
        };
        CallFeatures {
            features,
            features2,
        }
    }

    /// Whether `lineCompleteCall` could be accepted on the call at all.
    pub const fn can_complete(self) -> bool {
        self.features & LINECALLFEATURE_COMPLETECALL != 0
    }

    /// Whether `mode` could be requested.
    pub const fn allows(self, mode: CompletionMode) -> bool {
        self.features2 & mode.feature2() != 0
    }
}

/// One call appearance on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The call's id.
    pub id: CallId,
    /// The B2BUA call this appearance belongs to.
    pub call_ref: CallRef,
    /// The name of the line the call is on.
    pub line: String,
    /// In or out, as the line sees it.
    pub direction: Direction,
    /// The other party: the dialled target for an outgoing call, the caller for an incoming one.
    pub remote: String,
    /// The TAPI call state.
    pub state: CallState,
    /// The detail of `busy` / `disconnected`, if the state has one.
    pub mode: Option<StateMode>,
    /// Why the call exists.
    pub reason: CallReason,
    /// The completion request this call results from; set only when the reason is `callcompletion`.
    pub completion_id: Option<u32>,
    /// How the callee side failed, once it has (the completion condition derives from it).
    pub failure: Option<Failure>,
    /// Whether this line's SIP leg is still open (camp-on and intrusion need it open).
    pub leg_open: bool,
    /// When the call appeared.
    pub created: Time,
    /// When the call entered its current state.
    pub state_since: Time,
    /// When the call was answered, if it was.
    pub connected_at: Option<Time>,
    /// While the call waits in its offer window (DESIGN §2.5): when it will go idle.
    pub offer_until: Option<Time>,
}

impl Call {
    /// The completion modes whose state check (DESIGN §2.1 step 4) this call passes now.
    ///
    /// Only outgoing calls in `busy` or `ringback` qualify; `callback` and `message` need nothing
    /// more, `campon` and `intrude` need `busy` with the caller's leg still open.
    pub fn completable_modes(&self) -> Vec<CompletionMode> {
        if self.direction != Direction::Out {
            return Vec::new();
        }
        let held_busy = self.state == CallState::Busy && self.leg_open;
        let failed = matches!(self.state, CallState::Busy | CallState::Ringback);
        CompletionMode::ALL
            .iter()
            .copied()
            .filter(|m| m.needs().met_by_call(failed, held_busy))
            .collect()
    }

    /// The call features given the modes the address offers: COMPLETECALL and the COMPL* bits
    /// of the offered modes that [`Call::completable_modes`] allows.
    pub fn call_features(&self, offered: &[CompletionMode]) -> CallFeatures {
        let modes: Vec<CompletionMode> = self
            .completable_modes()
            .into_iter()
            .filter(|m| offered.contains(m))
            .collect();
        CallFeatures::from_modes(&modes)
    }
}

impl Serialize for Call {
    /// The API shape: names with their TAPI values alongside.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Call", 16)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("line", &self.line)?;
        s.serialize_field("address_id", &crate::line::ADDRESS_ID)?;
        s.serialize_field("direction", &self.direction)?;
        s.serialize_field("remote", &self.remote)?;
        s.serialize_field("state", &self.state)?;
        s.serialize_field("state_value", &self.state.value())?;
        s.serialize_field("mode", &self.mode.map(StateMode::as_str))?;
        s.serialize_field("mode_value", &self.mode.map(StateMode::value))?;
        s.serialize_field("reason", &self.reason)?;
        s.serialize_field("reason_value", &self.reason.value())?;
        s.serialize_field("completion_id", &self.completion_id)?;
        s.serialize_field("created_ms", &self.created)?;
        s.serialize_field("state_since_ms", &self.state_since)?;
        s.serialize_field("connected_ms", &self.connected_at)?;
        s.serialize_field("offer_until_ms", &self.offer_until)?;
        s.end()
    }
}

/// Hands out ids that are never 0 and never equal to one still in use.
///
/// Ids count up from 1 and wrap past `u32::MAX` back to 1, skipping ids in use, so an id is
/// reused only after about four billion allocations and never while live.
#[derive(Debug, Clone)]
pub struct IdAllocator {
    next: u32,
}

impl Default for IdAllocator {
    fn default() -> Self {
        IdAllocator::new()
    }
}

impl IdAllocator {
    /// An allocator whose first id is 1.
    pub const fn new() -> IdAllocator {
        IdAllocator { next: 1 }
    }

    /// An allocator whose first id is `next` (0 is taken as 1); lets a restart resume counting.
    pub const fn starting_at(next: u32) -> IdAllocator {
        IdAllocator {
            next: if next == 0 { 1 } else { next },
        }
    }

    /// The next free id, given how many are `live` and a test for whether one is in use;
    /// `None` only when every non-zero `u32` is in use.
    pub fn allocate(&mut self, live: usize, in_use: impl Fn(u32) -> bool) -> Option<NonZeroU32> {
        if live >= u32::MAX as usize {
            return None;
        }
        // At most `live` ids are skipped, so this ends within `live + 1` steps.
        loop {
            let candidate = NonZeroU32::new(self.next);
            self.next = self.next.checked_add(1).unwrap_or(1);
            if let Some(id) = candidate {
                if !in_use(id.get()) {
                    return Some(id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn call(direction: Direction, state: CallState, leg_open: bool) -> Call {
        Call {
            id: CallId::new(1).unwrap(),
            call_ref: CallRef(1),
            line: "alice".into(),
            direction,
            remote: "sip:bob@example.com".into(),
            state,
            mode: None,
            reason: CallReason::Direct,
            completion_id: None,
            failure: None,
            leg_open,
            created: Time::ZERO,
            state_since: Time::ZERO,
            connected_at: None,
            offer_until: None,
        }
    }

    #[test]
    fn call_id_is_never_zero() {
        assert_eq!(CallId::new(0), None);
        assert_eq!(CallId::new(7).map(CallId::get), Some(7));
    }

    #[test]
    fn allocator_skips_zero_and_live_ids_when_wrapping() {
        let mut ids = IdAllocator::starting_at(u32::MAX - 1);
        let live: HashSet<u32> = [u32::MAX, 1, 2].into_iter().collect();
        let got: Vec<u32> = (0..3)
            .map(|_| {
                ids.allocate(live.len(), |id| live.contains(&id))
                    .unwrap()
                    .get()
            })
            .collect();
        assert_eq!(got, vec![u32::MAX - 1, 3, 4]);
        assert_eq!(
            IdAllocator::starting_at(0)
                .allocate(0, |_| false)
                .unwrap()
                .get(),
            1
        );
        assert_eq!(
            IdAllocator::new().allocate(u32::MAX as usize, |_| true),
            None
        );
    }

    /// DESIGN §2.1 step 4 and §2.5, row by row.
    #[test]
    fn completable_modes_by_state() {
        use CompletionMode::*;
        let rows: &[(Direction, CallState, bool, &[CompletionMode])] = &[
            (
                Direction::Out,
                CallState::Busy,
                true,
                &[Campon, Callback, Intrude, Message],
            ),
            (Direction::Out, CallState::Busy, false, &[Callback, Message]),
            (
                Direction::Out,
                CallState::Ringback,
                true,
                &[Callback, Message],
            ),
            (
                Direction::Out,
                CallState::Ringback,
                false,
                &[Callback, Message],
            ),
            (Direction::Out, CallState::Proceeding, true, &[]),
            (Direction::Out, CallState::Connected, true, &[]),
            (Direction::Out, CallState::Dialing, true, &[]),
            (Direction::In, CallState::Busy, true, &[]),
            (Direction::In, CallState::Offering, true, &[]),
        ];
        for &(direction, state, leg_open, want) in rows {
            let c = call(direction, state, leg_open);
            assert_eq!(
                c.completable_modes(),
                want,
                "{direction:?} {state} leg_open={leg_open}"
            );
            let f = c.call_features(CompletionMode::ALL);
            assert_eq!(f.can_complete(), !want.is_empty());
            for m in CompletionMode::ALL {
                assert_eq!(f.allows(*m), want.contains(m), "{m}");
            }
        }
    }

    #[test]
    fn call_features_keep_only_offered_modes() {
        let c = call(Direction::Out, CallState::Busy, true);
        let f = c.call_features(&[CompletionMode::Callback]);
        assert_eq!(f.features, LINECALLFEATURE_COMPLETECALL);
        assert_eq!(f.features2, 0x8);
        assert_eq!(c.call_features(&[]), CallFeatures::default());
    }

    #[test]
    fn call_serializes_names_with_values() {
        let mut c = call(Direction::Out, CallState::Busy, false);
        c.mode = Some(StateMode::Busy(BusyMode::Station));
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["id"], 1);
        assert_eq!(v["direction"], "out");
        assert_eq!(v["state"], "busy");
        assert_eq!(v["state_value"], 0x40);
        assert_eq!(v["mode"], "station");
        assert_eq!(v["mode_value"], 1);
        assert_eq!(v["reason"], "direct");
        assert_eq!(v["reason_value"], 1);
        assert!(v["completion_id"].is_null());
    }
}
