//! The core task: drives the [`Engine`] with tokio. One `select!` over the transport's
//! inbound channel, the API's commands, the store's completions and one timer (the earliest
//! of the transaction layer, the B2BUA and the switch). Each wake-up takes every inbound
//! message waiting (up to [`BATCH`]); after the batch, once, the outbox goes to the
//! transport, the events to the API's subscribers and the store jobs to the store, and the
//! timer is set again.
//!
//! Output goes through a [`Gate`]: a step's messages and events wait for the store jobs that
//! step queued (write-ahead), and everything after them waits behind them.
//!
//! Store jobs are queued to the store in the order the core made them, without waiting for
//! each commit, so that the store's writer runs every job waiting at once in one transaction
//! (group commit, one fsync) while two REGISTERs of one AOR still commit in the order they
//! were decided. A second task waits for the commits, in the same order, and reports each.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use callcomp_switch::{Event, LineErr, Time};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::gate::Gate;
use super::handle::Command;
use super::{Engine, Now, StoreFault, StoreJob};
use crate::store::{self, Store, StoreError, StoreHealth};
use crate::transport::{InboundRx, Outbound};

/// The current time from tokio's clock (pausable in tests) and the system clock.
pub fn now() -> Now {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Now {
        instant: tokio::time::Instant::now().into_std(),
        wall: Time::new(since),
    }
}

/// At most this many inbound messages are handled per wake-up before the output is flushed
/// and the other inputs (timers, commands, store completions) get their turn.
pub const BATCH: usize = 256;

/// The channels the core task reads.
pub struct Inputs {
    /// Messages from the transport: calls in progress first, new work after.
    pub inbound: InboundRx,
    /// Commands from the API.
    pub commands: mpsc::Receiver<Command>,
}

/// Runs the core until `shutdown` resolves or the transport's channel closes; then ends
/// every call, flushes what is left, and waits for the store to finish its jobs.
pub async fn run(
    mut engine: Engine,
    mut send: impl FnMut(Outbound) + Send,
    store: Store,
    mut inputs: Inputs,
    events: broadcast::Sender<Event>,
    shutdown: impl Future<Output = ()>,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel::<StoreJob>();
    let worker = tokio::spawn(store_worker(store, jobs_rx, done_tx));
    tokio::pin!(shutdown);
    let mut answers: Answers = HashMap::new();
    let mut out = Outlet {
        send: &mut send,
        events: &events,
        gate: Gate::default(),
    };
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        out.flush(&mut engine, Some(&jobs_tx));
        answer(&mut engine, &mut answers);
        let deadline = engine.poll_timeout(now());
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            n = inputs.inbound.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                for event in batch.drain(..) {
                    engine.transport_event(event, now());
                }
            }
            Some(command) = inputs.commands.recv() => command_step(&mut engine, command, &mut answers),
            Some((id, result)) = done_rx.recv() => out.store_done(&mut engine, id, result),
            () = sleep => engine.on_timer(now()),
            () = &mut shutdown => break,
        }
    }
    tracing::info!("core stopping: ending calls and finishing store writes");
    engine.shutdown(now());
    out.flush(&mut engine, Some(&jobs_tx));
    drop(jobs_tx);
    while engine.store_pending() || out.gate.is_holding() {
        let Some((id, result)) = done_rx.recv().await else {
            break;
        };
        out.store_done(&mut engine, id, result);
        out.flush(&mut engine, None);
    }
    for (wire, stream) in out.gate.release_all() {
        out.emit(wire, stream);
    }
    answer(&mut engine, &mut answers);
    if worker.await.is_err() {
        tracing::error!("store worker failed");
    }
}

/// Where the core's output goes: the wire and the event stream, through the write-ahead
/// [`Gate`] (a step's output waits for the store jobs it queued).
struct Outlet<'a, S: FnMut(Outbound)> {
    send: &'a mut S,
    events: &'a broadcast::Sender<Event>,
    gate: Gate<(Vec<Outbound>, Vec<Event>)>,
}

impl<S: FnMut(Outbound)> Outlet<'_, S> {
    /// Hands the step's store jobs to the worker (`None`: it is gone, at shutdown) and its
    /// output to the gate.
    fn flush(&mut self, engine: &mut Engine, jobs: Option<&mpsc::UnboundedSender<StoreJob>>) {
        let wire = engine.drain_outbound();
        let stream = engine.drain_events();
        let mut queued = 0;
        for job in engine.drain_jobs() {
            if jobs.is_some_and(|j| j.send(job).is_ok()) {
                queued += 1;
            } else {
                tracing::error!("store worker gone; a store job was dropped");
            }
        }
        if wire.is_empty() && stream.is_empty() && queued == 0 {
            return;
        }
        if let Some((wire, stream)) = self.gate.step(queued, (wire, stream)) {
            self.emit(wire, stream);
        }
    }

    /// A store job finished: what waited for it goes out, then the core hears of it.
    fn store_done(&mut self, engine: &mut Engine, id: Option<u64>, result: Result<(), StoreFault>) {
        for (wire, stream) in self.gate.finished() {
            self.emit(wire, stream);
        }
        if let Some(id) = id {
            engine.store_done(id, result, now());
        }
    }

    fn emit(&mut self, wire: Vec<Outbound>, stream: Vec<Event>) {
        for out in wire {
            (self.send)(out);
        }
        for event in stream {
            // No subscriber is not an error.
            let _ = self.events.send(event);
        }
    }
}

/// A store job's outcome, in queue order, with its id when the core asked for a report.
type Done = (Option<u64>, Result<(), StoreFault>);

/// An API request waiting for its store write.
enum Waiter {
    /// lineCompleteCall: the completion id.
    Complete(oneshot::Sender<Result<u32, LineErr>>),
    /// lineUncompleteCall.
    Uncomplete(oneshot::Sender<Result<(), LineErr>>),
}

/// API requests waiting for their store write, by ticket.
type Answers = HashMap<u64, Waiter>;

/// Sends the answers whose store write finished.
fn answer(engine: &mut Engine, answers: &mut Answers) {
    for (ticket, result) in engine.drain_replies() {
        match answers.remove(&ticket) {
            Some(Waiter::Complete(reply)) => {
                let _ = reply.send(result);
            }
            Some(Waiter::Uncomplete(reply)) => {
                let _ = reply.send(result.map(|_| ()));
            }
            None => {}
        }
    }
}

fn command_step(engine: &mut Engine, command: Command, answers: &mut Answers) {
    match command {
        Command::Complete {
            call,
            mode,
            message_id,
            reply,
        } => match engine.complete_call(call, mode, message_id, now()) {
            Ok(ticket) => {
                answers.insert(ticket, Waiter::Complete(reply));
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        },
        Command::Uncomplete { line, id, reply } => match engine.uncomplete_call(&line, id, now()) {
            Ok(ticket) => {
                answers.insert(ticket, Waiter::Uncomplete(reply));
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        },
        Command::MakeCall { line, to, reply } => {
            let made = engine.make_call(&line, &to, now()).map(|call| {
                let switch = engine.switch();
                switch
                    .calls_of(call)
                    .first()
                    .map(|c| super::handle::CoreHandle::call_view(switch, c))
            });
            let _ = reply.send(made);
        }
        Command::Registrations { line, reply } => {
            let now = now();
            let views = engine
                .registrar()
                .contacts(&line, now.ms())
                .into_iter()
                .map(crate::api::RegistrationView::from)
                .collect();
            let _ = reply.send(views);
        }
        Command::Drop { id, reply } => {
            let _ = reply.send(engine.drop_call(id, now()));
        }
        Command::Publish { reply } => {
            engine.publish_switch();
            let _ = reply.send(());
        }
    }
}

/// A queued store job: what to report (`None`: nothing), what it was for the logs, and the
/// commit to wait for.
type Queued = (
    Option<u64>,
    &'static str,
    Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>,
);

/// Queues store jobs in order without waiting for their commits (so that jobs arriving together
/// share one), and hands each commit to [`report_commits`].
async fn store_worker(
    store: Store,
    mut jobs: mpsc::UnboundedReceiver<StoreJob>,
    done: mpsc::UnboundedSender<Done>,
) {
    let (queued_tx, queued_rx) = mpsc::unbounded_channel::<Queued>();
    let reporter = tokio::spawn(report_commits(store.health(), queued_rx, done));
    while let Some(job) = jobs.recv().await {
        let queued = match job {
            StoreJob::ReplaceBindings { id, aor, bindings } => {
                let rows: Vec<store::Binding> = bindings.iter().map(store::Binding::from).collect();
                let commit = store.queue_replace_bindings(aor, rows).await;
                (Some(id), "storing bindings", boxed(commit))
            }
            StoreJob::SaveCompletion { id, row } => {
                let commit = store.queue_upsert_completion(row).await;
                (Some(id), "storing a completion request", boxed(commit))
            }
            StoreJob::DeleteCompletion { id, completion_id } => {
                let commit = store.queue_delete_completion(completion_id).await;
                let commit = commit.map(|c| async move { c.await.map(|_| ()) });
                (Some(id), "deleting a completion request", boxed(commit))
            }
            StoreJob::PurgeExpired { now_ms } => {
                let commit = store.queue_purge_expired(now_ms).await;
                let commit = commit.map(|c| async move { c.await.map(|_| ()) });
                (None, "purging expired bindings", boxed(commit))
            }
        };
        if queued_tx.send(queued).is_err() {
            break;
        }
    }
    drop(queued_tx);
    if reporter.await.is_err() {
        tracing::error!("store commit reporter failed");
    }
}

/// A queued job's commit, or the error of queueing it, as one future.
fn boxed<F>(
    queued: Result<F, StoreError>,
) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>
where
    F: Future<Output = Result<(), StoreError>> + Send + 'static,
{
    match queued {
        Ok(commit) => Box::pin(commit),
        Err(e) => Box::pin(std::future::ready(Err(e))),
    }
}

/// Waits for each queued job's commit, in order, and reports it to the core.
async fn report_commits(
    health: StoreHealth,
    mut queued: mpsc::UnboundedReceiver<Queued>,
    done: mpsc::UnboundedSender<Done>,
) {
    while let Some((id, what, commit)) = queued.recv().await {
        let result = commit.await.map_err(|e| {
            tracing::error!(error = %e, "{what} failed");
            fault_of(&e, &health)
        });
        // Every job is reported, so the gate can count them.
        let _ = done.send((id, result));
    }
}

/// The fault a store error means for the requester: any error while the store is unavailable
/// (or because it is) is [`StoreFault::Unavailable`].
fn fault_of(e: &StoreError, health: &StoreHealth) -> StoreFault {
    if matches!(e, StoreError::Unavailable { .. } | StoreError::Closed)
        || health.problem().is_some()
    {
        StoreFault::Unavailable
    } else {
        StoreFault::Failed
    }
}
