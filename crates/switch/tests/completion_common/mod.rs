//! Shared rig for the completion tests: a switch with lines alice, bob, carol and dave, helpers
//! that drive calls to the states completion needs, and a one-line summary per event. Every
//! event passing through the rig is checked to be numbered one after the last.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::time::Duration;

use callcomp_switch::{
    Action, CallId, CallRef, CallerLeg, CompletionConfig, CompletionFact, CompletionId,
    CompletionMode, Event, EventKind, Fact, Failure, Line, LineErr, Party, Side, Switch,
    SwitchConfig, Time,
};

pub const LINES: &[&str] = &["alice", "bob", "carol", "dave"];

pub fn t(ms: u64) -> Time {
    Time::from_millis(ms)
}

pub fn addr(line: &str) -> String {
    format!("sip:{line}@example.com")
}

/// The test configuration: the defaults with short, distinct timers.
pub fn config() -> CompletionConfig {
    CompletionConfig {
        guard: Duration::from_millis(1_500),
        recall_ring: Duration::from_secs(20),
        campon_max: Duration::from_secs(300),
        ccbs_expiry: Duration::from_secs(3_600),
        ccnr_expiry: Duration::from_secs(7_200),
        ccnl_expiry: Duration::from_secs(5_400),
        ..CompletionConfig::default()
    }
}

pub struct Rig {
    pub sw: Switch,
    next_ref: u64,
    pub last_seq: u64,
}

impl Rig {
    pub fn new() -> Rig {
        Rig::with(config())
    }

    pub fn with(config: CompletionConfig) -> Rig {
        let mut sw = Switch::with_completion(SwitchConfig::default(), config);
        for name in LINES {
            sw.add_line(Line::new(*name, addr(name))).unwrap();
        }
        Rig {
            sw,
            next_ref: 100,
            last_seq: 0,
        }
    }

    fn check(&mut self, events: &[Event]) {
        for e in events {
            assert_eq!(
                e.seq,
                self.last_seq + 1,
                "events numbered one by one: {e:?}"
            );
            self.last_seq = e.seq;
        }
    }

    /// Applies a call fact; returns the summary.
    pub fn fact(&mut self, fact: Fact, ms: u64) -> Vec<String> {
        let events = self.sw.handle(fact, t(ms)).unwrap();
        self.check(&events);
        summary(&events)
    }

    /// Applies a completion fact; returns the summary.
    pub fn cfact(&mut self, fact: CompletionFact, ms: u64) -> Vec<String> {
        let events = self.sw.completion_fact(fact, t(ms)).unwrap();
        self.check(&events);
        summary(&events)
    }

    pub fn timer(&mut self, ms: u64) -> Vec<String> {
        let events = self.sw.on_timer(t(ms));
        self.check(&events);
        summary(&events)
    }

    /// lineCompleteCall by the call's owner; returns the id and the summary.
    pub fn complete(
        &mut self,
        call: CallId,
        mode: CompletionMode,
        ms: u64,
    ) -> (CompletionId, Vec<String>) {
        let a = self
            .sw
            .complete_call(None, call.get(), mode.value(), 0, t(ms))
            .unwrap();
        self.check(&a.events);
        (a.id, summary(&a.events))
    }

    pub fn try_complete(
        &mut self,
        requester: Option<&str>,
        call: u32,
        mode: u32,
        message_id: u32,
        ms: u64,
    ) -> Result<CompletionId, LineErr> {
        let a = self
            .sw
            .complete_call(requester, call, mode, message_id, t(ms))?;
        self.check(&a.events);
        Ok(a.id)
    }

    pub fn uncomplete(&mut self, line: &str, id: u32, ms: u64) -> Result<Vec<String>, LineErr> {
        let events = self.sw.uncomplete_call(line, id, t(ms))?;
        self.check(&events);
        Ok(summary(&events))
    }

    pub fn actions(&mut self) -> Vec<Action> {
        self.sw.poll_actions()
    }

    fn new_ref(&mut self) -> CallRef {
        self.next_ref += 1;
        CallRef(self.next_ref)
    }

    /// `from` dials `to`; the call is offered to `to` unless `offer` is false. Returns the ref
    /// and the caller's call id.
    pub fn dial(&mut self, from: &str, to: &str, offer: bool, ms: u64) -> (CallRef, CallId) {
        let r = self.new_ref();
        self.fact(
            Fact::Dialed {
                call: r,
                from: Party::Line(from.into()),
                to: addr(to),
            },
            ms,
        );
        if offer {
            self.fact(Fact::offered(r, to), ms);
        }
        let id = self.sw.calls_of(r).first().map(|c| c.id).unwrap();
        (r, id)
    }

    /// A call `from` → `to` that failed with `cause`; the caller leg held or released.
    pub fn failed(
        &mut self,
        from: &str,
        to: &str,
        cause: Failure,
        leg: CallerLeg,
        ms: u64,
    ) -> (CallRef, CallId) {
        let offer = cause != Failure::NotRegistered;
        let (r, id) = self.dial(from, to, offer, ms);
        if cause == Failure::NoAnswer {
            self.fact(Fact::Ringing { call: r }, ms);
        }
        self.fact(
            Fact::Failed {
                call: r,
                cause,
                caller_leg: leg,
            },
            ms,
        );
        (r, id)
    }

    /// A busy call whose caller leg already ended (in its offer window).
    pub fn busy(&mut self, from: &str, to: &str, ms: u64) -> CallId {
        self.failed(from, to, Failure::Busy, CallerLeg::Released, ms)
            .1
    }

    /// A connected call `from` → `to`.
    pub fn connect(&mut self, from: &str, to: &str, ms: u64) -> CallRef {
        let (r, _) = self.dial(from, to, true, ms);
        self.fact(Fact::Answered { call: r }, ms);
        r
    }

    pub fn hangup(&mut self, r: CallRef, ms: u64) -> Vec<String> {
        self.fact(
            Fact::Hangup {
                call: r,
                by: Side::Caller,
            },
            ms,
        )
    }

    pub fn state(&self, id: CompletionId) -> Option<&'static str> {
        self.sw.completion(id).map(|r| r.state.as_str())
    }

    /// The completion events only.
    pub fn phases(lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.starts_with("completion"))
            .cloned()
            .collect()
    }
}

/// One line per event.
pub fn summary(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match &e.kind {
            EventKind::AppNewCall(a) => format!("{}:{} appnewcall", a.line, a.call_id),
            EventKind::CallState(c) => match c.mode {
                Some(mode) => format!("{}:{} {}/{}", c.line, c.call_id, c.state, mode),
                None => format!("{}:{} {}", c.line, c.call_id, c.state),
            },
            EventKind::CallInfo(i) => {
                let names: Vec<&str> = i.changed.iter().map(|c| c.as_str()).collect();
                format!("{}:{} callinfo {}", i.line, i.call_id, names.join("|"))
            }
            EventKind::Reply(r) => format!(
                "{} reply {} {}",
                r.line,
                serde_json::to_value(r.request).unwrap().as_str().unwrap(),
                r.completion_id
            ),
            EventKind::LineDevState(d) => match (d.completion_id, d.cause) {
                (Some(id), Some(cause)) => format!(
                    "{} complcancel {} {} ({})",
                    d.line,
                    id,
                    cause.as_str(),
                    d.num_call_completions
                ),
                _ => {
                    let state = serde_json::to_value(d.state).unwrap();
                    let state = state.as_str().unwrap();
                    format!("{} {state} {}", d.line, d.num_call_completions)
                }
            },
            EventKind::Completion(c) => {
                let state = serde_json::to_value(c.state).unwrap();
                let mut s = format!("completion {} {}", c.completion_id, state.as_str().unwrap());
                if let Some(p) = c.position {
                    s.push_str(&format!(" @{p}"));
                }
                if let Some(cause) = c.cause {
                    s.push_str(&format!(" ({})", cause.as_str()));
                }
                s
            }
        })
        .collect()
}
