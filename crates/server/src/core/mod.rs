//! The server core: one task owns every piece of state (transactions, registrar, B2BUA,
//! the switch, the identifier generator) by value, without locks; the API reads copies of
//! the switch the core publishes ([`snapshot`]) and asks for the rest by command.
//!
//! [`Engine`] is the core as a sans-IO state machine: messages from the transport, commands
//! from the API, store completions and the time go in; messages for the transport, switch
//! events and store jobs come out ([`Engine::drain_outbound`], [`Engine::drain_events`],
//! [`Engine::drain_jobs`]); [`Engine::poll_timeout`] says when it next needs the time.
//! [`runtime::run`] drives it with tokio; the tests drive it by hand with injected time.
//!
//! - [`inbound`](mod@inbound): every inbound message, from the checks to the role that handles it;
//! - [`completion`]: the completion engine's actions, durable accepts and cancels;
//! - [`monitor`]: the RFC 6910 monitor role (SUBSCRIBE, PUBLISH, the CC call, NOTIFYs);
//! - [`agent`](mod@agent): the RFC 6910 agent role, requests toward other servers' monitors;
//! - [`feature_codes`]: dialled codes (`*37`, `#37`) for phones without RFC 6910;
//! - [`transactions`]: the transaction layer and our Via/Contact;
//! - [`runtime`]: the tokio task; [`handle`]: the API's view of the core;
//! - [`snapshot`]: the switch the core owns and the copies of it it publishes for the API;
//! - [`trace`]: the SIP trace lines (`log.sip_trace`);
//! - [`ids`]: tags, branches, Call-IDs;
//! - [`meters`]: metric handles, registered once;
//! - [`gate`]: the write-ahead of output behind the store jobs it depends on.

pub mod agent;
pub mod completion;
pub mod feature_codes;
pub mod gate;
pub mod handle;
pub mod ids;
pub mod inbound;
pub mod meters;
pub mod monitor;
pub mod monitor_trunk;
pub mod runtime;
pub mod snapshot;
pub mod trace;
pub mod transactions;

use crate::media::MediaHandle;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use callcomp_sip::message::Message;
use callcomp_sip::transaction::{TimerConfig, TransactionKey};
use callcomp_switch::{
    CallRef, Direction, Event, EventKind, Line, LineErr, Side, Switch, SwitchConfig, Time,
};

use crate::b2bua::{B2bua, Ctx, MakeCallError};
use crate::config::Config;
use crate::delivery::Deliveries;
use crate::identity::Authenticator;
use crate::registrar::{Binding, Registrar};
use crate::subscription::Subscriptions;
use crate::transport::Outbound;

use self::ids::Ids;
use self::snapshot::{Published, Snapshots};
use self::transactions::Transactions;

/// The time as the core needs it: a monotonic instant for SIP timers, the wall clock (since
/// the UNIX epoch) for the switch and the bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub instant: Instant,
    /// Wall-clock time since the UNIX epoch.
    pub wall: Time,
}

impl Now {
    /// The current time from the system clocks.
    pub fn system() -> Now {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Now {
            instant: Instant::now(),
            wall: Time::new(since),
        }
    }

    /// Wall-clock milliseconds since the UNIX epoch.
    pub fn ms(&self) -> u64 {
        self.wall.as_millis()
    }

    /// This time moved forward by `d` on both clocks.
    pub fn after(self, d: Duration) -> Now {
        Now {
            instant: self.instant + d,
            wall: self.wall + d,
        }
    }
}

/// Work for the store; the core hears back through [`Engine::store_done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreJob {
    /// Make `bindings` the whole set of `aor` (an accepted REGISTER), then report `id`.
    ReplaceBindings {
        /// The job id to report.
        id: u64,
        /// The AOR.
        aor: String,
        /// Its new bindings.
        bindings: Vec<Binding>,
    },
    /// Delete bindings expired at `now_ms` (no report needed).
    PurgeExpired {
        /// The time.
        now_ms: u64,
    },
    /// Write (insert or replace) a completion request, then report `id`.
    SaveCompletion {
        /// The job id to report.
        id: u64,
        /// The row.
        row: crate::store::StoredCompletion,
    },
    /// Delete a completion request's row (ended, or being cancelled), then report `id`.
    DeleteCompletion {
        /// The job id to report.
        id: u64,
        /// The request.
        completion_id: u32,
    },
}

/// Why a store job did not commit, as far as the answer to the requester goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// The store is unavailable (its file deleted or replaced, commits failing): SIP `503`
    /// with `Retry-After`, API `LINEERR_RESOURCEUNAVAIL`.
    Unavailable,
    /// This one write failed: SIP `500`, API `LINEERR_OPERATIONFAILED`.
    Failed,
}

impl StoreFault {
    /// The API's error for it.
    pub fn line_err(self) -> LineErr {
        match self {
            StoreFault::Unavailable => LineErr::ResourceUnavail,
            StoreFault::Failed => LineErr::OperationFailed,
        }
    }
}

/// How long a phone told `503` because the store is unavailable should wait (`Retry-After`).
pub const STORE_RETRY_AFTER_SECS: u32 = 30;

/// A REGISTER whose new binding set waits for its store commit.
#[derive(Debug)]
struct PendingRegister {
    key: TransactionKey,
    /// The 200 to send once committed.
    response: Message,
    user: String,
}

/// How often expired bindings are looked for at most.
const PURGE_INTERVAL: Duration = Duration::from_secs(30);

/// The core as a state machine; see the module documentation.
pub struct Engine {
    config: Arc<Config>,
    sip: Transactions,
    registrar: Registrar,
    auth: Authenticator,
    b2bua: B2bua,
    /// The switch, owned; the API reads the copies published of it.
    switch: Published,
    events: Vec<Event>,
    jobs: Vec<StoreJob>,
    next_job: u64,
    /// REGISTERs waiting for their store commit, by job id.
    waiting: HashMap<u64, PendingRegister>,
    next_purge: Option<Instant>,
    completion: completion::CompletionState,
    /// Subscriptions: RFC 6910 `call-completion` (notifier) and RFC 4235 watches.
    subs: Subscriptions,
    /// MESSAGE delivery of mode `message`.
    delivery: Deliveries,
    /// SIP requests (SUBSCRIBE, unsubscribe, feature codes) waiting for a completion store
    /// job, by job id.
    waits: HashMap<u64, monitor::SipWait>,
    /// The `cancel` feature codes in flight.
    cancel_groups: feature_codes::CancelGroups,
    /// How many of the pending events were already looked at for NOTIFYs.
    notified: usize,
    /// How many of the pending events the agent subscriptions already saw.
    agents_seen: usize,
    call_meters: meters::CallMeters,
    /// callcomp's own RTP endpoints (recall progress, mixing); `None` in cores built without.
    media: Option<MediaHandle>,
}

/// A [`Ctx`] over `$engine`'s fields for `$body`, borrowing them one by one so that a role
/// beside the B2BUA (a subscription, a delivery) can be used in the body.
macro_rules! with_cx {
    ($engine:expr, $now:expr, |$cx:ident| $body:expr) => {{
        #[allow(unused_mut)]
        let mut $cx = $crate::b2bua::Ctx {
            sip: &mut $engine.sip,
            switch: &mut $engine.switch,
            events: &mut $engine.events,
            registrar: &$engine.registrar,
            config: &$engine.config,
            media: $engine.media.as_ref(),
            now: $now,
        };
        $body
    }};
}
pub(crate) use with_cx;

impl Engine {
    /// The core for `config`: lines for the configured users, the bindings loaded from the
    /// store (and, under open registration, a line for each of their users), our address
    /// `advertise` for Via and Contact, the switch it then owns (see [`Engine::snapshots`] for
    /// the API's reads), and the generator of its identifiers (seeded in tests).
    pub fn new(
        config: Arc<Config>,
        switch: Switch,
        ids: Ids,
        advertise: SocketAddr,
        nonce_key: [u8; 32],
        bindings: Vec<Binding>,
        now: Now,
    ) -> Engine {
        let mut registrar = Registrar::from_config(&config);
        registrar.add_own_addr(advertise);
        registrar.load(bindings, now.ms());
        let mut engine = Engine {
            sip: Transactions::new(TimerConfig::default(), advertise)
                .with_ids(ids)
                .with_trace(trace::SipTrace::new(config.log.sip_trace.clone())),
            registrar,
            auth: Authenticator::from_config(&config, nonce_key),
            b2bua: B2bua::new(),
            switch: Published::new(switch),
            events: Vec::new(),
            jobs: Vec::new(),
            next_job: 0,
            waiting: HashMap::new(),
            next_purge: Some(now.instant + PURGE_INTERVAL),
            completion: completion::CompletionState::default(),
            subs: Subscriptions::new(),
            delivery: Deliveries::new(),
            waits: HashMap::new(),
            cancel_groups: feature_codes::CancelGroups::new(),
            notified: 0,
            agents_seen: 0,
            call_meters: meters::CallMeters::default(),
            media: None,
            config,
        };
        let mut names: Vec<String> = engine.config.users.keys().cloned().collect();
        if engine.config.open_registration() {
            names.extend(engine.registrar.users().map(str::to_owned));
        }
        for name in names {
            engine.ensure_line(&name);
        }
        engine.report_registrations(now);
        // The API reads the lines from the start.
        engine.switch.publish();
        engine
    }

    /// The core with the media plane `media` (`crate::media::spawn`).
    pub fn with_media(mut self, media: MediaHandle) -> Engine {
        self.media = Some(media);
        self
    }

    /// Loads the completion requests read back from the store (at start, before any input);
    /// what cannot come back ends at the first timer tick.
    pub fn import_completions(
        &mut self,
        snapshot: callcomp_switch::Snapshot,
        now: Now,
    ) -> Result<(), callcomp_switch::completion::ImportError> {
        self.switch.import_completions(snapshot, now.wall)?;
        // The reloaded requests learn who is registered now (a `notregistered` callee that
        // registered while the server was down is available at once).
        self.report_registrations(now);
        self.resubscribe_agents(now);
        self.switch.publish();
        Ok(())
    }

    /// The switch, for inspection.
    pub fn switch(&self) -> &Switch {
        &self.switch
    }

    /// A reader of the copies of the switch the core publishes, for the API.
    pub fn snapshots(&self) -> Snapshots {
        self.switch.snapshots()
    }

    /// Publishes a copy of the switch for the API if it changed since the last one (the
    /// runtime does when the API asks, before its reads); whether it did.
    pub fn publish_switch(&mut self) -> bool {
        self.switch.publish()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sets the address put in our Via and Contact (once the transport has bound).
    pub fn set_advertise(&mut self, addr: SocketAddr) {
        self.sip.set_advertise(addr);
        self.registrar.add_own_addr(addr);
    }

    /// The B2BUA, for inspection.
    pub fn b2bua(&self) -> &B2bua {
        &self.b2bua
    }

    /// The subscriptions, for inspection.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subs
    }

    /// The registrar, for inspection.
    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// Messages for the transport.
    pub fn drain_outbound(&mut self) -> Vec<Outbound> {
        self.sip.drain()
    }

    /// Switch events for the API's subscribers, in order.
    pub fn drain_events(&mut self) -> Vec<Event> {
        let events = std::mem::take(&mut self.events);
        self.completion.synced = 0;
        self.notified = 0;
        self.agents_seen = 0;
        if !events.is_empty() {
            self.record_call_metrics(&events);
        }
        events
    }

    /// Work for the store.
    pub fn drain_jobs(&mut self) -> Vec<StoreJob> {
        std::mem::take(&mut self.jobs)
    }

    /// Whether REGISTERs, accepts or cancels still wait for the store.
    pub fn store_pending(&self) -> bool {
        !self.waiting.is_empty()
            || !self.waits.is_empty()
            || !self.completion.accepts.is_empty()
            || !self.completion.cancels.is_empty()
    }

    /// When [`Engine::on_timer`] is next due.
    pub fn poll_timeout(&self, now: Now) -> Option<Instant> {
        let switch = self
            .switch
            .next_deadline()
            .map(|at| now.instant + at.saturating_since(now.wall));
        [
            self.sip.poll_timeout(),
            self.b2bua.poll_timeout(),
            self.subs.poll_timeout(),
            switch,
            self.next_purge,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires every timer due at `now`.
    pub fn on_timer(&mut self, now: Now) {
        let events = self.sip.on_timer(now.instant);
        self.dispatch(events, None, None, now);
        self.with_ctx(now, |b2bua, cx| b2bua.on_timer(cx));
        self.subscriptions_on_timer(now);
        let events = self.switch.on_timer(now.wall);
        self.events.extend(events);
        if self.next_purge.is_some_and(|at| at <= now.instant) {
            self.next_purge = Some(now.instant + PURGE_INTERVAL);
            let gone = self.registrar.purge(now.ms());
            if !gone.is_empty() {
                self.jobs.push(StoreJob::PurgeExpired { now_ms: now.ms() });
            }
            for user in gone {
                if self.registrar.contacts(&user, now.ms()).is_empty() {
                    self.registration_fact(&user, false, now);
                }
            }
        }
        self.pump(now);
    }

    /// The store finished job `id`: apply what waited for it (a REGISTER's bindings and its
    /// 200, an accepted or cancelled completion request) or, on `Err`, refuse it.
    pub fn store_done(&mut self, id: u64, result: Result<(), StoreFault>, now: Now) {
        let Some(pending) = self.waiting.remove(&id) else {
            self.completion_stored(id, result, now);
            self.settle_waits(now);
            return;
        };
        let staged = self.registrar.settle(id);
        let response = match (result, staged) {
            (Ok(()), Some(bindings)) => {
                self.bindings_stored(&pending.user, bindings, now);
                pending.response
            }
            (Ok(()), None) => pending.response,
            (Err(fault), _) => {
                let mut failed = pending.response;
                failed.remove(&callcomp_sip::HeaderName::Contact);
                match fault {
                    StoreFault::Unavailable => {
                        failed.set_status(503, "Store unavailable");
                        failed.push(&callcomp_sip::headers::numbers::RetryAfter::new(
                            STORE_RETRY_AFTER_SECS,
                        ));
                    }
                    StoreFault::Failed => failed.set_status(500, "Store failure"),
                }
                failed
            }
        };
        self.sip.respond(&pending.key, response, now.instant);
    }

    /// A REGISTER's binding set committed: it becomes the user's, and the completion engine
    /// hears of a registration that began or ended.
    fn bindings_stored(&mut self, user: &str, bindings: Vec<Binding>, now: Now) {
        let has = !bindings.is_empty();
        let aor = format!("sip:{user}@{}", self.config.domain);
        if has {
            tracing::info!(%aor, contacts = bindings.len(), "registered");
            self.ensure_line(user);
        } else {
            tracing::info!(%aor, "unregistered");
        }
        let had = !self.registrar.contacts(user, now.ms()).is_empty();
        self.registrar.apply(user, bindings);
        if had != has {
            self.registration_fact(user, has, now);
        }
        self.pump(now);
    }

    /// `lineMakeCall`: a third-party call from `line`'s phone to `to`.
    pub fn make_call(&mut self, line: &str, to: &str, now: Now) -> Result<CallRef, MakeCallError> {
        let made = self.with_ctx(now, |b2bua, cx| b2bua.make_call(cx, line, to));
        self.pump(now);
        made
    }

    /// `lineDrop` of call appearance `id`: ends its B2BUA call from that line's side, or
    /// ends the offer window of a call whose SIP legs are over.
    pub fn drop_call(&mut self, id: u32, now: Now) -> Result<(), LineErr> {
        let (call_ref, direction, call_id) = {
            let switch = &*self.switch;
            let call = switch.call_by_number(id)?;
            (call.call_ref, call.direction, call.id)
        };
        let side = match direction {
            Direction::Out => Side::Caller,
            Direction::In => Side::Callee,
        };
        let dropped = self.with_ctx(now, |b2bua, cx| b2bua.drop_call(cx, call_ref, side));
        if !dropped {
            let events = self.switch.drop_call(call_id, now.wall)?;
            self.events.extend(events);
        }
        self.pump(now);
        Ok(())
    }

    /// Ends every call (shutdown): CANCEL, failure responses and BYEs go out.
    pub fn shutdown(&mut self, now: Now) {
        self.with_ctx(now, |b2bua, cx| b2bua.drop_all(cx));
    }

    /// Adds a line for `name` if the switch has none.
    fn ensure_line(&mut self, name: &str) {
        let switch = &mut *self.switch;
        if switch.line(name).is_none() {
            let aor = format!("sip:{name}@{}", self.config.domain);
            if let Err(e) = switch.add_line(Line::new(name, aor)) {
                tracing::warn!(error = %e, line = name, "cannot add line");
            }
            if let Some(user) = self.config.users.get(name) {
                let limits = callcomp_switch::LineLimits {
                    max_call_completions: user.max_call_completions,
                    max_queue: user.max_queue,
                    intrudable: Some(user.intrudable),
                };
                if let Err(e) = switch.set_line_limits(name, limits) {
                    tracing::warn!(error = %e, line = name, "cannot set completion limits");
                }
            }
        }
    }

    /// Runs `f` with the B2BUA and a context over the rest of the core.
    fn with_ctx<T>(&mut self, now: Now, f: impl FnOnce(&mut B2bua, &mut Ctx<'_>) -> T) -> T {
        let mut cx = Ctx {
            sip: &mut self.sip,
            switch: &mut self.switch,
            events: &mut self.events,
            registrar: &self.registrar,
            config: &self.config,
            media: self.media.as_ref(),
            now,
        };
        f(&mut self.b2bua, &mut cx)
    }

    /// Counts the call states entered and sets the per-state gauges from the switch's
    /// counts (no walk over the calls).
    fn record_call_metrics(&mut self, events: &[Event]) {
        let entered = events.iter().filter_map(|e| match &e.kind {
            EventKind::CallState(c) => Some(c.state),
            _ => None,
        });
        let switch = &*self.switch;
        self.call_meters
            .record(entered, |state| switch.calls_in_state(state));
    }
}

/// A switch with the configured offer window.
pub fn new_switch(config: &Config) -> Switch {
    Switch::with_completion(
        SwitchConfig {
            offer_window: config.completion.offer_window,
        },
        completion::engine_config(config),
    )
}

#[cfg(test)]
mod tests;
