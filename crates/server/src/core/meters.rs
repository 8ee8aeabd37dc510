//! Metric handles of the core, registered once per label set and kept.
//!
//! The `metrics` macros look a series up in the recorder on every call (hashing the name and
//! every label, and building the label strings); on the per-message path that is a large
//! share of the cost. Here each series is looked up the first time it is used and its handle
//! is kept: later increments are an atomic add. A handle taken before a recorder is installed
//! records into nothing, so the handles are taken lazily, on first use, when the server has
//! installed its recorder long before (tests without a recorder record nothing either way).

use std::collections::HashMap;

use callcomp_sip::method::Method;
use callcomp_switch::CallState;
use metrics::{Counter, Gauge};

use crate::api::metrics as m;

/// Which way a SIP message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Way {
    /// Received.
    In,
    /// Sent.
    Out,
}

/// The role of a transaction, for [`m::TRANSACTIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A client transaction.
    Client,
    /// A server transaction.
    Server,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

/// The method a counter is labelled with: the methods callcomp knows by name, every other
/// token as `other`, so that a sender inventing methods cannot grow the label sets.
fn label(method: &Method) -> Method {
    match method {
        Method::Extension(_) => Method::Extension("other".into()),
        known => known.clone(),
    }
}

/// The kept handles of the SIP message and transaction counters.
#[derive(Default)]
pub struct SipMeters {
    /// By direction, method and status (0 for a request).
    messages: HashMap<(Way, Method, u16), Counter>,
    transactions: HashMap<(Role, Method), Counter>,
}

impl SipMeters {
    /// Counts one message with its method (a response's CSeq method) and status (`None`: a
    /// request).
    pub fn message(&mut self, way: Way, method: &Method, status: Option<u16>) {
        let method = &label(method);
        let code = status.unwrap_or(0);
        if let Some(counter) = self.messages.get(&(way, method.clone(), code)) {
            counter.increment(1);
            return;
        }
        let name = match way {
            Way::In => m::SIP_MESSAGES_IN,
            Way::Out => m::SIP_MESSAGES_OUT,
        };
        let status = status.map_or_else(|| "request".to_owned(), |s| s.to_string());
        let counter = ::metrics::counter!(name, m::LABEL_METHOD => method.as_str().to_owned(), m::LABEL_STATUS => status);
        counter.increment(1);
        self.messages.insert((way, method.clone(), code), counter);
    }

    /// Counts one transaction started.
    pub fn transaction(&mut self, role: Role, method: &Method) {
        let method = &label(method);
        self.transactions
            .entry((role, method.clone()))
            .or_insert_with(|| {
                ::metrics::counter!(m::TRANSACTIONS, m::LABEL_ROLE => role.as_str(), m::LABEL_METHOD => method.as_str().to_owned())
            })
            .increment(1);
    }
}

/// The kept handles of the call-state counter and gauge, by the state's place in
/// [`CallState::ALL`].
#[derive(Default)]
pub struct CallMeters {
    handles: Option<Vec<(Counter, Gauge)>>,
}

impl CallMeters {
    fn handles(&mut self) -> &[(Counter, Gauge)] {
        self.handles.get_or_insert_with(|| {
            CallState::ALL
                .iter()
                .map(|s| {
                    (
                        ::metrics::counter!(m::CALL_STATE_CHANGES, m::LABEL_STATE => s.as_str()),
                        ::metrics::gauge!(m::CALLS, m::LABEL_STATE => s.as_str()),
                    )
                })
                .collect()
        })
    }

    /// Counts calls entering `entered` states, then sets each state's gauge to `count(state)`.
    pub fn record(
        &mut self,
        entered: impl Iterator<Item = CallState>,
        count: impl Fn(CallState) -> usize,
    ) {
        let handles = self.handles();
        for state in entered {
            if let Some(i) = CallState::ALL.iter().position(|s| *s == state) {
                if let Some((counter, _)) = handles.get(i) {
                    counter.increment(1);
                }
            }
        }
        for (state, (_, gauge)) in CallState::ALL.iter().zip(handles) {
            gauge.set(count(*state) as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        let mut meters = SipMeters::default();
        for m in ["XYZ1", "XYZ2", "XYZ3"] {
            meters.message(Way::In, &Method::Extension(m.into()), None);
            meters.transaction(Role::Server, &Method::Extension(m.into()));
        }
        meters.message(Way::In, &Method::Invite, None);
        assert_eq!(meters.messages.len(), 2, "INVITE and `other`");
        assert_eq!(meters.transactions.len(), 1);
    }
}
