//! Completion settings, address capabilities and line status (DESIGN §2, TAPI digest §3.4, §4).
//!
//! [`CompletionConfig`] holds the knobs of `[completion]` in the configuration; [`AddressCaps`]
//! is what a line's address advertises (a LINEADDRESSCAPS subset) and [`LineStatus`] the
//! LINEDEVSTATUS subset. Every mode can be configured; the server leaves out of
//! [`CompletionConfig::modes`] what its runtime cannot deliver (`intrude` without media).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::tapi::{
    CompletionCond, CompletionMode, LINEADDRCAPFLAGS_COMPLETIONID, LINEADDRFEATURE_UNCOMPLETECALL,
    LINECALLFEATURE_COMPLETECALL,
};

/// The settings of the completion engine (the `[completion]` section, DESIGN §2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionConfig {
    /// The modes offered (DESIGN §2: modes the running configuration cannot deliver are not
    /// advertised, so the server leaves those out).
    pub modes: Vec<CompletionMode>,
    /// The conditions under which completion may be requested.
    pub conds: Vec<CompletionCond>,
    /// Outstanding requests per line; 0 makes completion unavailable.
    pub max_call_completions: u32,
    /// Requests that may wait on one callee.
    pub max_queue: u32,
    /// Pause after the callee becomes available before the request fires (`guard_ms`).
    pub guard: Duration,
    /// How long a recall rings the caller.
    pub recall_ring: Duration,
    /// Recalls of one request that may fail (caller or callee not answering, callee busy)
    /// before the request ends; each failure puts it back in its queue (RFC 6910 §7.4).
    pub recall_attempts: u32,
    /// The longest a camp-on waits.
    pub campon_max: Duration,
    /// Lifetime of a request made on busy.
    pub ccbs_expiry: Duration,
    /// Lifetime of a request made on no answer.
    pub ccnr_expiry: Duration,
    /// Lifetime of a request made on not registered.
    pub ccnl_expiry: Duration,
    /// The predefined texts of mode `message`, numbered from 0.
    pub completion_messages: Vec<String>,
}

impl Default for CompletionConfig {
    /// The defaults of `docs/config.md`.
    fn default() -> Self {
        CompletionConfig {
            modes: CompletionMode::ALL.to_vec(),
            conds: CompletionCond::ALL.to_vec(),
            max_call_completions: 5,
            max_queue: 10,
            guard: Duration::from_millis(1_500),
            recall_ring: Duration::from_secs(20),
            recall_attempts: 3,
            campon_max: Duration::from_secs(300),
            ccbs_expiry: Duration::from_secs(3_600),
            ccnr_expiry: Duration::from_secs(7_200),
            ccnl_expiry: Duration::from_secs(7_200),
            completion_messages: vec![
                "Please call me back.".into(),
                "I tried to reach you; no need to call back.".into(),
                "Please call me back, it is urgent.".into(),
            ],
        }
    }
}

impl CompletionConfig {
    /// The modes an address advertises, in ascending value order.
    pub fn offered_modes(&self) -> Vec<CompletionMode> {
        CompletionMode::ALL
            .iter()
            .copied()
            .filter(|m| self.modes.contains(m))
            .collect()
    }

    /// The lifetime of a request made under `cond`.
    pub const fn expiry(&self, cond: CompletionCond) -> Duration {
        match cond {
            CompletionCond::Busy => self.ccbs_expiry,
            CompletionCond::Noanswer => self.ccnr_expiry,
            CompletionCond::Notregistered => self.ccnl_expiry,
        }
    }
}

/// Per-line completion settings (`users.<name>.max_call_completions` / `max_queue` /
/// `intrudable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LineLimits {
    /// Overrides `max_call_completions` for requests this line makes.
    pub max_call_completions: Option<u32>,
    /// Overrides `max_queue` for requests waiting on this line.
    pub max_queue: Option<u32>,
    /// `Some(false)`: nobody may intrude into this line's calls. `None` means intrudable.
    pub intrudable: Option<bool>,
}

/// The completion capabilities of a line's address (LINEADDRESSCAPS subset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressCaps {
    /// The modes offered.
    pub call_completion_modes: Vec<CompletionMode>,
    /// The same, as the OR of the `LINECALLCOMPLMODE_*` values.
    pub call_completion_modes_value: u32,
    /// The conditions under which completion can be requested.
    pub call_completion_conds: Vec<CompletionCond>,
    /// The same, as the OR of the `LINECALLCOMPLCOND_*` values (with our `notregistered` bit).
    pub call_completion_conds_value: u32,
    /// `dwMaxCallCompletions`: 0 means completion is unavailable.
    pub max_call_completions: u32,
    /// The predefined texts for mode `message`, numbered from 0.
    pub completion_messages: Vec<String>,
    /// `dwAddrCapFlags`: `LINEADDRCAPFLAGS_COMPLETIONID` when completion is available.
    pub addr_cap_flags: u32,
    /// `dwCallFeatures`: `LINECALLFEATURE_COMPLETECALL` when completion is available.
    pub call_features: u32,
    /// `dwAddressFeatures`: `LINEADDRFEATURE_UNCOMPLETECALL` when completion is available.
    pub address_features: u32,
    /// `dwCallFeatures2`: the `LINECALLFEATURE2_COMPL*` bits of the offered modes.
    pub call_features2: u32,
}

impl AddressCaps {
    /// The caps of an address offering `modes` under `conds` with at most `max` outstanding
    /// requests; with `max == 0` or no mode, completion is unavailable and nothing is advertised.
    pub fn new(
        modes: &[CompletionMode],
        conds: &[CompletionCond],
        max: u32,
        messages: &[String],
    ) -> AddressCaps {
        let available = max > 0 && !modes.is_empty();
        let modes: Vec<CompletionMode> = if available {
            modes.to_vec()
        } else {
            Vec::new()
        };
        let conds: Vec<CompletionCond> = if available {
            conds.to_vec()
        } else {
            Vec::new()
        };
        let bit = |b: u32| if available { b } else { 0 };
        AddressCaps {
            call_completion_modes_value: modes.iter().fold(0, |b, m| b | m.value()),
            call_features2: modes.iter().fold(0, |b, m| b | m.feature2()),
            call_completion_modes: modes,
            call_completion_conds_value: conds.iter().fold(0, |b, c| b | c.value()),
            call_completion_conds: conds,
            max_call_completions: if available { max } else { 0 },
            completion_messages: messages.to_vec(),
            addr_cap_flags: bit(LINEADDRCAPFLAGS_COMPLETIONID),
            call_features: bit(LINECALLFEATURE_COMPLETECALL),
            address_features: bit(LINEADDRFEATURE_UNCOMPLETECALL),
        }
    }
}

/// A line's completion status (LINEDEVSTATUS subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineStatus {
    /// `dwNumCallCompletions`: the line's outstanding requests.
    pub num_call_completions: u32,
    /// Calls on the line that are not idle.
    pub num_calls: u32,
    /// Whether the line's phone has a call in progress (a SIP leg open).
    pub in_call: bool,
    /// Whether the line's phone is registered (`LINEDEVSTATUSFLAGS_INSERVICE`); `None` until
    /// the server has said.
    pub registered: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_modes_are_offered_with_their_bits() {
        let c = CompletionConfig::default();
        assert_eq!(c.offered_modes(), CompletionMode::ALL);
        let caps = AddressCaps::new(&c.offered_modes(), &c.conds, 5, &[]);
        assert_eq!(caps.call_completion_modes_value, 0xF);
        assert_eq!(caps.call_features2, 0x4 | 0x8 | 0x10 | 0x20);
        let no_intrude = CompletionConfig {
            modes: vec![CompletionMode::Message, CompletionMode::Campon],
            ..CompletionConfig::default()
        };
        assert_eq!(
            no_intrude.offered_modes(),
            [CompletionMode::Campon, CompletionMode::Message]
        );
        let caps = AddressCaps::new(&no_intrude.offered_modes(), &c.conds, 5, &[]);
        assert_eq!(caps.call_features2, 0x4 | 0x20);
        assert_eq!(caps.call_completion_conds_value, 0x8000_0003);
        assert_eq!(
            (
                caps.addr_cap_flags,
                caps.call_features,
                caps.address_features
            ),
            (0x800, 0x10, 0x40)
        );
        let none = AddressCaps::new(&c.offered_modes(), &c.conds, 0, &[]);
        assert_eq!(
            (
                none.call_completion_modes_value,
                none.call_features2,
                none.call_features
            ),
            (0, 0, 0)
        );
    }
}
