//! The API's view of the core ([`crate::api::Core`]): reads are views of the copy of the
//! switch the core last published ([`Snapshots`]), which [`Core::catch_up`] first asks the
//! core to publish anew (a command, answered once the copy is out); operations that change
//! something are commands to the core task, answered through a oneshot channel (with what the
//! caller must see of the change, built inside the core); events come from a broadcast
//! channel the core publishes to.

use std::sync::{Arc, Mutex};

use callcomp_switch::{Event, LineErr, Switch};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::snapshot::Snapshots;
use crate::api::{
    AddressCaps, ApiFailure, BoxFuture, CallView, CompletionView, Core, LineStatus, LineView,
    RegistrationView,
};
use crate::b2bua::MakeCallError;
use crate::store::StoreHealth;

/// A request from the API to the core task.
#[derive(Debug)]
pub enum Command {
    /// `lineMakeCall`.
    MakeCall {
        /// The line whose phone rings first.
        line: String,
        /// The destination.
        to: String,
        /// The view of the new call on the line (`None`: it ended at once), or why there is
        /// none.
        reply: oneshot::Sender<Result<Option<CallView>, MakeCallError>>,
    },
    /// `lineCompleteCall` (the API owns every call).
    Complete {
        /// The call appearance.
        call: u32,
        /// The `LINECALLCOMPLMODE_*` value.
        mode: u32,
        /// The predefined message, for mode `message`.
        message_id: u32,
        /// The completion id once the request is stored, or why there is none.
        reply: oneshot::Sender<Result<u32, LineErr>>,
    },
    /// `lineUncompleteCall`.
    Uncomplete {
        /// The line.
        line: String,
        /// The completion id.
        id: u32,
        /// Whether the request was cancelled.
        reply: oneshot::Sender<Result<(), LineErr>>,
    },
    /// The live bindings of a line, for the API.
    Registrations {
        /// The line.
        line: String,
        /// Its bindings, best first.
        reply: oneshot::Sender<Vec<RegistrationView>>,
    },
    /// Publish a copy of the switch if it changed since the last one, then answer: the
    /// API's reads that follow see everything done until now.
    Publish {
        /// Answered once published.
        reply: oneshot::Sender<()>,
    },
    /// `lineDrop`.
    Drop {
        /// The call appearance.
        id: u32,
        /// Whether the drop was accepted.
        reply: oneshot::Sender<Result<(), LineErr>>,
    },
}

/// The handle the API holds.
#[derive(Clone)]
pub struct CoreHandle {
    switch: Snapshots,
    commands: mpsc::Sender<Command>,
    /// The event channel, until [`CoreHandle::close_events`]: event streams end when every
    /// sender is gone, so the handle gives its own up at shutdown.
    events: Arc<Mutex<Option<broadcast::Sender<Event>>>>,
    /// The store's health, for `/healthz`; `None` for a core with no store.
    store: Option<StoreHealth>,
}

impl CoreHandle {
    /// A handle over the copies of the switch the core publishes
    /// ([`super::Engine::snapshots`]), its command channel and its event channel.
    pub fn new(
        switch: Snapshots,
        commands: mpsc::Sender<Command>,
        events: broadcast::Sender<Event>,
    ) -> CoreHandle {
        CoreHandle {
            switch,
            commands,
            events: Arc::new(Mutex::new(Some(events))),
            store: None,
        }
    }

    /// This handle, reporting the health of the store the core writes to.
    pub fn with_store_health(mut self, health: StoreHealth) -> CoreHandle {
        self.store = Some(health);
        self
    }

    /// Lets go of the event channel: once the core drops its sender too, every event stream
    /// ends (and new subscribers get an ended stream).
    pub fn close_events(&self) {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }

    fn line_view(switch: &Switch, line: &callcomp_switch::Line) -> LineView {
        let caps = switch
            .address_caps(&line.name)
            .map_or_else(|_| AddressCaps::unavailable(), AddressCaps::from);
        let status = switch
            .line_status(&line.name)
            .map_or_else(|_| idle_status(), LineStatus::from);
        LineView::of(line, caps, status)
    }

    /// The view of `call`, its completion features as the engine sees them.
    pub(crate) fn call_view(switch: &Switch, call: &callcomp_switch::Call) -> CallView {
        let mut view = CallView::of(call, &[]);
        let features = switch.call_features(call.id);
        view.call_features = features.features;
        view.call_features2 = features.features2;
        view.completion_modes = switch.completable_modes(call.id);
        view
    }

    fn completion_views<'a>(
        switch: &Switch,
        requests: impl IntoIterator<Item = &'a callcomp_switch::CompletionRequest>,
    ) -> Vec<CompletionView> {
        requests
            .into_iter()
            .map(|r| CompletionView::of(r, switch.queue_position(r.id)))
            .collect()
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ApiFailure> {
        let (reply, answer) = oneshot::channel();
        let stopped = || ApiFailure::Detailed {
            error: LineErr::OperationFailed,
            detail: "the server is shutting down".to_owned(),
        };
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }
}

impl Core for CoreHandle {
    fn catch_up(&self) -> BoxFuture<'_, ()> {
        // A core that stopped publishes nothing more: its last copy is as fresh as it gets.
        Box::pin(async move {
            let _ = self.ask(|reply| Command::Publish { reply }).await;
        })
    }

    fn lines(&self) -> Vec<LineView> {
        let switch = self.switch.latest();
        switch
            .lines()
            .map(|l| CoreHandle::line_view(&switch, l))
            .collect()
    }

    fn line(&self, name: &str) -> Result<LineView, LineErr> {
        let switch = self.switch.latest();
        let line = switch.line(name).ok_or(LineErr::InvalLineHandle)?;
        Ok(CoreHandle::line_view(&switch, line))
    }

    fn line_calls(&self, name: &str) -> Result<Vec<CallView>, LineErr> {
        let switch = self.switch.latest();
        Ok(switch
            .line_calls(name)?
            .into_iter()
            .map(|c| CoreHandle::call_view(&switch, c))
            .collect())
    }

    fn calls(&self) -> Vec<CallView> {
        // One published copy, so a call moving between lines is not seen twice.
        let switch = self.switch.latest();
        let mut views: Vec<CallView> = switch
            .lines()
            .filter_map(|l| switch.line_calls(&l.name).ok())
            .flatten()
            .map(|c| CoreHandle::call_view(&switch, c))
            .collect();
        views.sort_by_key(|c| c.id);
        views
    }

    fn call(&self, id: u32) -> Result<CallView, LineErr> {
        let switch = self.switch.latest();
        Ok(CoreHandle::call_view(&switch, switch.call_by_number(id)?))
    }

    fn make_call(&self, line: String, to: String) -> BoxFuture<'_, Result<CallView, ApiFailure>> {
        Box::pin(async move {
            let view = self
                .ask(|reply| Command::MakeCall { line, to, reply })
                .await?
                .map_err(|e| match e {
                    MakeCallError::UnknownLine(_) => ApiFailure::Line(LineErr::InvalLineHandle),
                    MakeCallError::InvalidAddress(to) => ApiFailure::InvalAddress(to),
                    e @ MakeCallError::PhoneNotRegistered(_) => ApiFailure::Detailed {
                        error: LineErr::OperationFailed,
                        detail: e.to_string(),
                    },
                })?;
            view.ok_or(ApiFailure::Detailed {
                error: LineErr::OperationFailed,
                detail: "the call ended at once".to_owned(),
            })
        })
    }

    fn registrations(
        &self,
        name: String,
    ) -> BoxFuture<'_, Result<Vec<RegistrationView>, ApiFailure>> {
        Box::pin(async move {
            self.catch_up().await;
            self.line(&name)?;
            self.ask(|reply| Command::Registrations { line: name, reply })
                .await
        })
    }

    fn drop_call(&self, id: u32) -> BoxFuture<'_, Result<(), ApiFailure>> {
        Box::pin(async move { Ok(self.ask(|reply| Command::Drop { id, reply }).await??) })
    }

    fn complete_call(
        &self,
        id: u32,
        mode: u32,
        message_id: u32,
    ) -> BoxFuture<'_, Result<u32, ApiFailure>> {
        Box::pin(async move {
            Ok(self
                .ask(|reply| Command::Complete {
                    call: id,
                    mode,
                    message_id,
                    reply,
                })
                .await??)
        })
    }

    fn uncomplete_call(&self, line: String, id: u32) -> BoxFuture<'_, Result<(), ApiFailure>> {
        Box::pin(async move {
            Ok(self
                .ask(|reply| Command::Uncomplete { line, id, reply })
                .await??)
        })
    }

    fn line_completions(&self, name: &str) -> Result<Vec<CompletionView>, LineErr> {
        let switch = self.switch.latest();
        let requests = switch.completions_of(name)?;
        Ok(CoreHandle::completion_views(&switch, requests))
    }

    fn completions_for(&self, target: &str) -> Vec<CompletionView> {
        let switch = self.switch.latest();
        CoreHandle::completion_views(&switch, switch.completions_for(target))
    }

    fn completions(&self) -> Vec<CompletionView> {
        let switch = self.switch.latest();
        let names: Vec<&str> = switch.lines().map(|l| l.name.as_str()).collect();
        names
            .into_iter()
            .flat_map(|n| CoreHandle::completion_views(&switch, switch.completions_for(n)))
            .collect()
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        let events = self
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match events.as_ref() {
            Some(sender) => sender.subscribe(),
            // A receiver whose sender is already gone: the stream ends at once.
            None => broadcast::channel(1).1,
        }
    }

    fn store_problem(&self) -> Option<String> {
        self.store.as_ref().and_then(StoreHealth::check)
    }
}

/// The status of a line the switch does not know (yet): nothing outstanding, no call.
fn idle_status() -> LineStatus {
    LineStatus {
        num_call_completions: 0,
        num_calls: 0,
        in_call: false,
        registered: None,
    }
}
