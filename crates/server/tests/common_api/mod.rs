//! A fake `callcomp::api::Core` shared by the API and CLI tests: a real
//! `callcomp_switch::Switch` driven by facts, so the views and events under test are the
//! switch's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::sync::{Arc, Mutex};

use callcomp::api::{AddressCaps, ApiFailure, BoxFuture, CallView, Core, LineStatus, LineView};
use callcomp_switch::{
    CallRef, CallerLeg, CompletionCond, CompletionMode, Direction, Event, Fact, FactError, Failure,
    Line, LineErr, Party, Side, Switch, SwitchConfig, Time,
};
use tokio::sync::broadcast;

/// The modes every fake address offers.
pub const MODES: &[CompletionMode] = &[CompletionMode::Callback, CompletionMode::Message];

/// A core over a real switch: facts in, views and events out.
pub struct FakeCore {
    inner: Mutex<Inner>,
    /// The sender of every event the core publishes.
    pub events: broadcast::Sender<Event>,
}

struct Inner {
    switch: Switch,
    now: Time,
    next_ref: u64,
}

impl FakeCore {
    /// Lines alice, bob and carol; an event buffer of `capacity`.
    pub fn new(capacity: usize) -> Arc<FakeCore> {
        let mut switch = Switch::new(SwitchConfig::default());
        for name in ["alice", "bob", "carol"] {
            switch
                .add_line(Line::new(name, format!("sip:{name}@example.com")))
                .unwrap();
        }
        Arc::new(FakeCore {
            inner: Mutex::new(Inner {
                switch,
                now: Time::from_millis(1_000),
                next_ref: 1,
            }),
            events: broadcast::channel(capacity).0,
        })
    }

    pub fn caps() -> AddressCaps {
        callcomp_switch::completion::AddressCaps::new(
            MODES,
            CompletionCond::ALL,
            4,
            &["Please call me back".into()],
        )
        .into()
    }

    /// Applies a fact 10 ms after the last one and publishes its events.
    pub fn apply(&self, fact: Fact) -> Result<Vec<Event>, FactError> {
        let mut inner = self.inner.lock().unwrap();
        inner.now = inner.now + std::time::Duration::from_millis(10);
        let now = inner.now;
        let events = inner.switch.handle(fact, now)?;
        self.publish(&events);
        Ok(events)
    }

    pub fn publish(&self, events: &[Event]) {
        for e in events {
            // No subscriber is not an error.
            let _ = self.events.send(e.clone());
        }
    }

    /// A fresh call ref.
    pub fn new_ref(&self) -> CallRef {
        let mut inner = self.inner.lock().unwrap();
        inner.next_ref += 1;
        CallRef(inner.next_ref)
    }

    pub fn line_view(switch: &Switch, line: &Line) -> LineView {
        let calls = switch.line_calls(&line.name).map(|c| c.len()).unwrap_or(0);
        let status = LineStatus {
            num_call_completions: 0,
            num_calls: u32::try_from(calls).unwrap(),
            in_call: switch.line_in_call(&line.name),
            registered: None,
        };
        LineView::of(line, FakeCore::caps(), status)
    }
}

impl Core for FakeCore {
    fn lines(&self) -> Vec<LineView> {
        let inner = self.inner.lock().unwrap();
        inner
            .switch
            .lines()
            .map(|l| FakeCore::line_view(&inner.switch, l))
            .collect()
    }

    fn line(&self, name: &str) -> Result<LineView, LineErr> {
        let inner = self.inner.lock().unwrap();
        let line = inner.switch.line(name).ok_or(LineErr::InvalLineHandle)?;
        Ok(FakeCore::line_view(&inner.switch, line))
    }

    fn line_calls(&self, name: &str) -> Result<Vec<CallView>, LineErr> {
        let inner = self.inner.lock().unwrap();
        let calls = inner.switch.line_calls(name)?;
        Ok(calls.into_iter().map(|c| CallView::of(c, MODES)).collect())
    }

    fn call(&self, id: u32) -> Result<CallView, LineErr> {
        let inner = self.inner.lock().unwrap();
        Ok(CallView::of(inner.switch.call_by_number(id)?, MODES))
    }

    fn make_call(&self, line: String, to: String) -> BoxFuture<'_, Result<CallView, ApiFailure>> {
        Box::pin(async move {
            if to == "nowhere" {
                return Err(ApiFailure::InvalAddress(to));
            }
            let call = self.new_ref();
            let fact = Fact::Dialed {
                call,
                from: Party::Line(line),
                to,
            };
            self.apply(fact).map_err(|e| match e {
                FactError::UnknownLine(_) => ApiFailure::Line(LineErr::InvalLineHandle),
                other => ApiFailure::Detailed {
                    error: LineErr::OperationFailed,
                    detail: other.to_string(),
                },
            })?;
            let inner = self.inner.lock().unwrap();
            let calls = inner.switch.calls_of(call);
            let first = calls.first().ok_or(LineErr::OperationFailed)?;
            Ok(CallView::of(first, MODES))
        })
    }

    fn drop_call(&self, id: u32) -> BoxFuture<'_, Result<(), ApiFailure>> {
        Box::pin(async move {
            let (call_ref, direction, leg_open) = {
                let inner = self.inner.lock().unwrap();
                let c = inner.switch.call_by_number(id)?;
                (c.call_ref, c.direction, c.leg_open)
            };
            if leg_open {
                let by = match direction {
                    Direction::Out => Side::Caller,
                    Direction::In => Side::Callee,
                };
                self.apply(Fact::Hangup { call: call_ref, by })
                    .map_err(|_| LineErr::InvalCallState)?;
            } else {
                let mut inner = self.inner.lock().unwrap();
                let now = inner.now;
                let call = inner.switch.call_by_number(id)?.id;
                let events = inner.switch.drop_call(call, now)?;
                self.publish(&events);
            }
            Ok(())
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

/// alice calls bob, bob's phone rings and says busy; alice's leg is released: alice's call
/// waits in `busy` for its offer window, where completion can be requested.
pub fn alice_busy_on_bob(core: &FakeCore) -> CallRef {
    let call = core.new_ref();
    let facts = [
        Fact::Dialed {
            call,
            from: Party::Line("alice".into()),
            to: "sip:bob@example.com".into(),
        },
        Fact::offered(call, "bob"),
        Fact::Ringing { call },
        Fact::Failed {
            call,
            cause: Failure::Busy,
            caller_leg: CallerLeg::Released,
        },
    ];
    for fact in facts {
        core.apply(fact).unwrap();
    }
    call
}
