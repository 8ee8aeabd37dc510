//! The media thread: a plain OS thread (not a tokio task, so a busy signalling runtime never
//! delays a frame) that applies commands as they come and runs [`MediaEngine::tick`] every
//! 20 ms on a fixed schedule. A tick that starts late is counted; a schedule fallen more than
//! 100 ms behind (the machine was suspended) starts again from now rather than bursting.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::config::MediaConfig;

use super::engine::{MediaEngine, MediaEvent};
use super::sounds::Sounds;
use super::{Command, MediaHandle};

/// The packetization interval: one G.711 frame.
pub const TICK: Duration = Duration::from_millis(20);

/// A tick later than this is counted as late (the benchmark's bound, issue #10).
pub const LATE: Duration = Duration::from_millis(5);

/// How far behind the schedule may fall before it restarts from now.
const MAX_BEHIND: Duration = Duration::from_millis(100);

/// The running media thread.
#[derive(Debug)]
pub struct MediaThread {
    stop: Arc<AtomicBool>,
    stats: Arc<TickStats>,
    join: Option<JoinHandle<()>>,
}

/// How the thread keeps its schedule.
#[derive(Debug, Default)]
pub struct TickStats {
    ticks: AtomicU64,
    late: AtomicU64,
    max_lateness_us: AtomicU64,
}

impl TickStats {
    /// Ticks run.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    /// Ticks that started more than [`LATE`] after their time.
    pub fn late(&self) -> u64 {
        self.late.load(Ordering::Relaxed)
    }

    /// The latest a tick started, in microseconds.
    pub fn max_lateness_us(&self) -> u64 {
        self.max_lateness_us.load(Ordering::Relaxed)
    }

    fn record(&self, lateness: Duration) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
        if lateness > LATE {
            self.late.fetch_add(1, Ordering::Relaxed);
            ::metrics::counter!(crate::api::metrics::MEDIA_TICKS_LATE).increment(1);
        }
        let us = u64::try_from(lateness.as_micros()).unwrap_or(u64::MAX);
        self.max_lateness_us.fetch_max(us, Ordering::Relaxed);
    }
}

/// Starts the media thread for `config`, playing `sounds`; media events go to `events`.
pub fn spawn(
    config: &MediaConfig,
    sounds: Sounds,
    events: Option<UnboundedSender<MediaEvent>>,
) -> std::io::Result<(MediaHandle, MediaThread)> {
    let (commands, receiver) = mpsc::channel();
    let rtp_source = config.rtp_source;
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(TickStats::default());
    let join = std::thread::Builder::new()
        .name("callcomp-media".into())
        .spawn({
            let stop = stop.clone();
            let stats = stats.clone();
            move || {
                run(
                    MediaEngine::new(sounds, rtp_source),
                    receiver,
                    events,
                    &stop,
                    &stats,
                )
            }
        })?;
    let handle = MediaHandle::new(commands, config);
    Ok((
        handle,
        MediaThread {
            stop,
            stats,
            join: Some(join),
        },
    ))
}

/// The engine without its thread: the caller applies the handle's commands and runs the
/// ticks itself, with the time it chooses (tests and benchmarks drive the real sockets so).
#[derive(Debug)]
pub struct Unthreaded {
    commands: mpsc::Receiver<Command>,
    /// The engine.
    pub engine: MediaEngine,
}

impl Unthreaded {
    /// Applies the queued commands, then runs one tick at `now`.
    pub fn tick(&mut self, now: Instant) -> Vec<MediaEvent> {
        self.apply_commands();
        self.engine.tick(now).collect()
    }

    /// Applies the queued commands.
    pub fn apply_commands(&mut self) {
        while let Ok(command) = self.commands.try_recv() {
            self.engine.apply(command);
        }
    }
}

/// A handle for `config` and the engine it drives, without a thread (see [`Unthreaded`]).
pub fn unthreaded(config: &MediaConfig, sounds: Sounds) -> (MediaHandle, Unthreaded) {
    let (commands, receiver) = mpsc::channel();
    let handle = MediaHandle::new(commands, config);
    let engine = MediaEngine::new(sounds, config.rtp_source);
    (
        handle,
        Unthreaded {
            commands: receiver,
            engine,
        },
    )
}

impl MediaThread {
    /// How the schedule was kept so far.
    pub fn stats(&self) -> &TickStats {
        &self.stats
    }

    /// Stops the thread (every endpoint closes) and waits for it.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(join) = self.join.take() {
            if join.join().is_err() {
                tracing::error!("the media thread panicked");
            }
        }
    }
}

impl Drop for MediaThread {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn run(
    mut engine: MediaEngine,
    commands: mpsc::Receiver<Command>,
    events: Option<UnboundedSender<MediaEvent>>,
    stop: &AtomicBool,
    stats: &TickStats,
) {
    let mut due = Instant::now() + TICK;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now < due {
            match commands.recv_timeout(due - now) {
                Ok(command) => engine.apply(command),
                Err(RecvTimeoutError::Timeout) => {}
                // Every handle is gone: nobody can ask for media any more.
                Err(RecvTimeoutError::Disconnected) => return,
            }
            continue;
        }
        stats.record(now - due);
        for event in engine.tick(now) {
            if let Some(events) = &events {
                let _ = events.send(event);
            }
        }
        due += TICK;
        if now > due + MAX_BEHIND {
            due = now + TICK;
        }
    }
}
