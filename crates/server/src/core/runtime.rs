//! The core task: drives the [`Engine`] with tokio. One `select!` over the transport's
//! inbound channel, the API's commands, the store's completions and one timer (the earliest
//! of the transaction layer, the B2BUA and the switch); after every step the outbox goes to
//! the transport, the events to the API's subscribers and the store jobs to the store.
//!
//! Store jobs run one after another in one worker task, so that two REGISTERs of one AOR
//! commit in the order they were decided.

use std::collections::HashMap;
use std::future::Future;

use callcomp_switch::{Event, LineErr, Time};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::handle::Command;
use super::{Engine, Now, StoreJob};
use crate::store::{self, Store};
use crate::transport::{Inbound, Outbound};

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

/// The channels the core task reads.
pub struct Inputs {
    /// Messages from the transport.
    pub inbound: mpsc::Receiver<Inbound>,
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
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(u64, bool)>();
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel::<StoreJob>();
    let worker = tokio::spawn(store_worker(store, jobs_rx, done_tx));
    tokio::pin!(shutdown);
    let mut answers: Answers = HashMap::new();
    loop {
        flush(&mut engine, &mut send, &events, &jobs_tx);
        answer(&mut engine, &mut answers);
        let deadline = engine.poll_timeout(now());
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            message = inputs.inbound.recv() => match message {
                Some(event) => engine.transport_event(event, now()),
                None => break,
            },
            Some(command) = inputs.commands.recv() => command_step(&mut engine, command, &mut answers),
            Some((id, ok)) = done_rx.recv() => engine.store_done(id, ok, now()),
            () = sleep => engine.on_timer(now()),
            () = &mut shutdown => break,
        }
    }
    tracing::info!("core stopping: ending calls and finishing store writes");
    engine.shutdown(now());
    flush(&mut engine, &mut send, &events, &jobs_tx);
    drop(jobs_tx);
    while engine.store_pending() {
        let Some((id, ok)) = done_rx.recv().await else {
            break;
        };
        engine.store_done(id, ok, now());
        flush_wire(&mut engine, &mut send);
    }
    answer(&mut engine, &mut answers);
    if worker.await.is_err() {
        tracing::error!("store worker failed");
    }
}

/// API requests waiting for their store write, by ticket.
type Answers = HashMap<u64, oneshot::Sender<Result<u32, LineErr>>>;

/// Sends the answers whose store write finished.
fn answer(engine: &mut Engine, answers: &mut Answers) {
    for (ticket, result) in engine.drain_replies() {
        if let Some(reply) = answers.remove(&ticket) {
            let _ = reply.send(result);
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
                answers.insert(ticket, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        },
        Command::Uncomplete { line, id, reply } => {
            let _ = reply.send(engine.uncomplete_call(&line, id, now()));
        }
        Command::MakeCall { line, to, reply } => {
            let _ = reply.send(engine.make_call(&line, &to, now()));
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
    }
}

fn flush(
    engine: &mut Engine,
    send: &mut impl FnMut(Outbound),
    events: &broadcast::Sender<Event>,
    jobs: &mpsc::UnboundedSender<StoreJob>,
) {
    flush_wire(engine, send);
    for event in engine.drain_events() {
        // No subscriber is not an error.
        let _ = events.send(event);
    }
    for job in engine.drain_jobs() {
        if jobs.send(job).is_err() {
            tracing::error!("store worker gone; a store job was dropped");
        }
    }
}

fn flush_wire(engine: &mut Engine, send: &mut impl FnMut(Outbound)) {
    for out in engine.drain_outbound() {
        send(out);
    }
}

/// Runs store jobs in order and reports each REGISTER's commit.
async fn store_worker(
    store: Store,
    mut jobs: mpsc::UnboundedReceiver<StoreJob>,
    done: mpsc::UnboundedSender<(u64, bool)>,
) {
    while let Some(job) = jobs.recv().await {
        match job {
            StoreJob::ReplaceBindings { id, aor, bindings } => {
                let rows: Vec<store::Binding> = bindings.iter().map(store::Binding::from).collect();
                let ok = match store.replace_bindings(aor, rows).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, "storing bindings failed");
                        false
                    }
                };
                let _ = done.send((id, ok));
            }
            StoreJob::SaveCompletion { id, row } => {
                let ok = match store.upsert_completion(row).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, "storing a completion request failed");
                        false
                    }
                };
                let _ = done.send((id, ok));
            }
            StoreJob::DeleteCompletion { completion_id } => {
                if let Err(e) = store.delete_completion(completion_id).await {
                    tracing::error!(error = %e, completion = completion_id, "deleting a completion request failed");
                }
            }
            StoreJob::PurgeExpired { now_ms } => {
                if let Err(e) = store.purge_expired(now_ms).await {
                    tracing::error!(error = %e, "purging expired bindings failed");
                }
            }
        }
    }
}
