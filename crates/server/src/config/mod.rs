//! The server's configuration: a TOML file read into [`Config`], or embedded defaults.
//!
//! DESIGN §5: `callcomp serve` with no file runs on [`Config::default`] (SIP on 127.0.0.1:5060
//! over UDP and TCP, API on 127.0.0.1:8060, store `callcomp.db`, open registration). A file
//! overrides any subset of the keys; every key it omits keeps its default. The key reference
//! is `docs/config.md`; `callcomp.example.toml` shows every key with a comment.
//!
//! Durations are strings with a unit (`"20s"`, `"5m"`, `"1h30m"`, see [`duration`]); the one
//! exception is `completion.guard_ms`, an integer of milliseconds, named so in DESIGN §2.3.
//!
//! Loading ([`Config::from_toml_str`]) reports every problem with the dotted key, the line and
//! the column: TOML syntax, unknown keys, wrong types and the checks of `validate`.

pub mod cidr;
pub mod duration;
mod load;
pub mod media;
pub mod trunks;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use callcomp_switch::CompletionMode;
use serde::{Deserialize, Serialize};

pub use cidr::Cidr;
pub use load::{ConfigError, ConfigErrorKind, ConfigErrors};
pub use media::MediaConfig;
pub use trunks::TrunkConfig;
pub use validate::Warning;

/// The whole configuration. Every field has a default, so an empty file is a valid one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The SIP domain of the users: line `alice` has the AOR `sip:alice@<domain>`.
    pub domain: String,
    /// SIP transports and call handling.
    pub sip: SipConfig,
    /// Registration of phones.
    pub registrar: RegistrarConfig,
    /// Digest authentication of phones and the lockout of password guessing.
    pub auth: AuthConfig,
    /// Call-completion limits, timers and predefined messages.
    pub completion: CompletionConfig,
    /// The HTTP/WebSocket application API.
    pub api: ApiConfig,
    /// callcomp's own RTP endpoints: ports, tones, announcements.
    pub media: MediaConfig,
    /// The SQLite store.
    pub store: StoreConfig,
    /// Logging.
    pub log: LogConfig,
    /// The configured users (lines), by name.
    pub users: BTreeMap<String, UserConfig>,
    /// The other servers calls to their domains go to (`[[trunks]]`).
    pub trunks: Vec<TrunkConfig>,
}

/// `[sip]`: where SIP is served and how calls are handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// Addresses to listen on; each one is served on every transport of `transports`.
    #[serde(deserialize_with = "socket_addr::deserialize_list")]
    pub listen: Vec<SocketAddr>,
    /// Transports to serve (`udp`, `tcp`).
    pub transports: Vec<Transport>,
    /// How long a callee's phone may ring before the call counts as not answered.
    #[serde(with = "duration::serde_text")]
    pub no_answer_timeout: Duration,
    /// Most INVITEs one call sends to the callee's contacts at once (best `q` first).
    pub max_forks: u32,
    /// Most calls in progress at once; past it new INVITEs get `503` with `Retry-After`.
    pub max_calls: u32,
    /// Most SIP TCP connections open at once, in and out.
    pub tcp_max_connections: u32,
    /// Most SIP TCP connections accepted from one source IP address.
    pub tcp_max_per_address: u32,
    /// Longest time a message may take to arrive whole over TCP once its first byte came.
    #[serde(with = "duration::serde_text")]
    pub tcp_message_timeout: Duration,
    /// A TCP connection that carries no whole message (nor keep-alive) for this long closes.
    #[serde(with = "duration::serde_text")]
    pub tcp_idle_timeout: Duration,
    /// Peers (trunks, gateways, load generators) whose requests are not challenged.
    pub trusted: Vec<Cidr>,
    /// The IP address put in callcomp's Via, Contact and Call-IDs; unset: the address SIP is
    /// bound to. Required when `listen` holds an unspecified address (`0.0.0.0`, `::`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise: Option<IpAddr>,
}

/// A SIP transport the server can listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// SIP over UDP (RFC 3261 §18).
    Udp,
    /// SIP over TCP (RFC 3261 §18).
    Tcp,
}

impl Transport {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// `[registrar]`: who may register, and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrarConfig {
    /// Whether any user name may register without a password. Unset: open exactly when no
    /// `[users]` are configured (see [`Config::open_registration`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open: Option<bool>,
    /// Shortest registration accepted; shorter requests get 423 with this as Min-Expires.
    #[serde(with = "duration::serde_text")]
    pub min_expires: Duration,
    /// Longest registration granted; longer requests are cut down to this.
    #[serde(with = "duration::serde_text")]
    pub max_expires: Duration,
    /// Most contacts one address of record may have; see `docs/security.md` for what
    /// happens beyond it.
    pub max_contacts: u32,
    /// Where requests to a registered phone go: its Contact or the REGISTER's source.
    pub nat: NatMode,
}

/// `registrar.nat`: where callcomp sends requests to a registered phone (docs/config.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NatMode {
    /// The source when the Contact cannot be reached from here (a name, another address
    /// than the REGISTER came from, RFC 5626 `ob`, a TCP flow), else the Contact.
    Auto,
    /// Always the Contact (the source only when the Contact's host is a name).
    Contact,
    /// Always the address the REGISTER came from (symmetric, NAT-friendly).
    Source,
}

impl NatMode {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            NatMode::Auto => "auto",
            NatMode::Contact => "contact",
            NatMode::Source => "source",
        }
    }
}

/// `[auth]`: how phones prove who they are (digest, RFC 3261 §22, RFC 8760), and how
/// password guessing is locked out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Digest realm of the challenges. Unset: the `domain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Digest algorithms offered (one challenge each, in this order) and accepted.
    pub algorithms: Vec<DigestAlgorithm>,
    /// How long a nonce may be used before the client must fetch a new one.
    #[serde(with = "duration::serde_text")]
    pub nonce_lifetime: Duration,
    /// Failed authentications from one source address, within `failure_window`, that lock
    /// the address out; 0 never locks a source.
    pub source_max_failures: u32,
    /// Failed authentications for one user name, within `failure_window`, that lock the
    /// user out; 0 never locks a user.
    pub user_max_failures: u32,
    /// The window in which failures are counted.
    #[serde(with = "duration::serde_text")]
    pub failure_window: Duration,
    /// How long a locked source or user gets 403 without a challenge.
    #[serde(with = "duration::serde_text")]
    pub lockout: Duration,
}

/// A digest algorithm as `auth.algorithms` names it (RFC 8760 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DigestAlgorithm {
    /// `MD5` (RFC 2617): what every SIP user agent knows.
    #[serde(rename = "MD5")]
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl DigestAlgorithm {
    /// The algorithm of the SIP crate.
    pub fn algorithm(self) -> callcomp_sip::auth::Algorithm {
        match self {
            DigestAlgorithm::Md5 => callcomp_sip::auth::Algorithm::Md5,
            DigestAlgorithm::Sha256 => callcomp_sip::auth::Algorithm::Sha256,
        }
    }
}

/// `[completion]`: the call-completion service (DESIGN §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompletionConfig {
    /// Completion modes offered; a mode left out is never advertised nor accepted.
    pub modes: Vec<CompletionMode>,
    /// Outstanding requests a line may have; 0 makes completion unavailable.
    pub max_call_completions: u32,
    /// Requests that may wait on one callee.
    pub max_queue: u32,
    /// How long a failed call stays `busy`/`ringback` so that completion can still be asked.
    #[serde(with = "duration::serde_text")]
    pub offer_window: Duration,
    /// How long a caller's INVITE is held open (183) on busy, so `campon`/`intrude` can apply;
    /// 0 answers 486 at once.
    #[serde(with = "duration::serde_text")]
    pub busy_hold: Duration,
    /// Milliseconds the callee is left alone after becoming available, before the recall.
    pub guard_ms: u64,
    /// How long a callback recall rings the caller.
    #[serde(with = "duration::serde_text")]
    pub recall_ring: Duration,
    /// How long a recall rings the callee once the caller answered (hearing ringback).
    #[serde(with = "duration::serde_text")]
    pub recall_callee_ring: Duration,
    /// Failed recalls of one request (caller or callee not answering, callee busy) before
    /// the request ends; each failure puts it back in its queue.
    pub recall_attempts: u32,
    /// How long a camped-on caller waits before getting 486.
    #[serde(with = "duration::serde_text")]
    pub campon_max: Duration,
    /// Lifetime of a request made on busy (CCBS).
    #[serde(with = "duration::serde_text")]
    pub ccbs_expiry: Duration,
    /// Lifetime of a request made on no answer (CCNR).
    #[serde(with = "duration::serde_text")]
    pub ccnr_expiry: Duration,
    /// Lifetime of a request made on not registered (CCNL).
    #[serde(with = "duration::serde_text")]
    pub ccnl_expiry: Duration,
    /// The predefined texts of mode `message`; a message id is an index into this list.
    pub completion_messages: Vec<String>,
    /// `[completion.feature_codes]`: the codes a phone without RFC 6910 dials.
    pub feature_codes: FeatureCodes,
}

/// `[completion.feature_codes]`: dialled codes for any handset (DESIGN §3). A mode's code
/// requests completion of the caller's last failed call in that mode; `cancel` cancels all
/// of the caller's requests. An empty string turns a code off. Only modes that need no held
/// caller leg have a code (`campon` and `intrude` need the failed call's INVITE still open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureCodes {
    /// Complete my last failed call with a callback (default `*37`).
    pub callback: String,
    /// Leave my last failed callee predefined message 0 (default off).
    pub message: String,
    /// Cancel all my completion requests (default `#37`).
    pub cancel: String,
}

impl FeatureCodes {
    /// The codes that are on, with their keys, for validation.
    pub fn entries(&self) -> [(&'static str, &str); 3] {
        [
            ("callback", self.callback.as_str()),
            ("message", self.message.as_str()),
            ("cancel", self.cancel.as_str()),
        ]
    }
}

impl Default for FeatureCodes {
    fn default() -> FeatureCodes {
        FeatureCodes {
            callback: "*37".to_owned(),
            message: String::new(),
            cancel: "#37".to_owned(),
        }
    }
}

/// `[api]`: the application API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Address of the HTTP/WebSocket listener.
    #[serde(deserialize_with = "socket_addr::deserialize")]
    pub listen: SocketAddr,
    /// When set, every request needs `Authorization: Bearer <token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// Most API connections open at once (WebSocket streams count in `max_event_clients`).
    pub max_connections: u32,
    /// Most `/v1/events` WebSocket clients at once; more get 503.
    pub max_event_clients: u32,
    /// Longest time a client may take to send a request's headers.
    #[serde(with = "duration::serde_text")]
    pub header_timeout: Duration,
    /// Host names (or IP addresses) accepted in `Host` (without a token) and in a WebSocket
    /// `Origin`, besides the listen address and the `localhost` names.
    pub allowed_hosts: Vec<String>,
}

/// `[store]`: the SQLite database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Database file, relative to the working directory unless absolute.
    pub path: PathBuf,
}

/// `[log]`: what the server logs and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// The least severe level written.
    pub level: LogLevel,
    /// Line format.
    pub format: LogFormat,
    /// Malformed SIP input is logged as one summary line (with a count) per this interval.
    #[serde(with = "duration::serde_text")]
    pub malformed_interval: Duration,
    /// SIP trace filter: user names and Call-IDs whose SIP messages and routing decisions
    /// are logged (at `debug`, whole messages at `trace`); empty traces every message.
    pub sip_trace: Vec<String>,
}

/// A log severity threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Failures only.
    Error,
    /// Failures and warnings.
    Warn,
    /// The normal level: starts, stops, registrations, completions.
    Info,
    /// Per-message detail.
    Debug,
    /// Everything.
    Trace,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[users.<name>]`: one line. Unset overrides take the `[completion]`/`[sip]` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserConfig {
    /// Digest password; unset means the user registers without authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Display name shown to others (e.g. in a recall's From).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether a second call reaches the phone while the user is on a call (DESIGN §2.3).
    pub call_waiting: bool,
    /// Whether others may intrude into this user's calls.
    pub intrudable: bool,
    /// What happens, for a caller of this line whose phone has no RFC 6910, when the callee is busy.
    pub on_busy: Policy,
    /// Same, when the callee does not answer.
    pub on_no_answer: Policy,
    /// Override of `completion.busy_hold` for calls this user makes.
    #[serde(
        with = "duration::serde_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub busy_hold: Option<Duration>,
    /// Override of `sip.no_answer_timeout` for calls to this user.
    #[serde(
        with = "duration::serde_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub no_answer_timeout: Option<Duration>,
    /// Override of `completion.max_call_completions` for this line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_call_completions: Option<u32>,
    /// Override of `completion.max_queue` for calls waiting on this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<u32>,
}

/// Per-user automatic policy for phones without RFC 6910 (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Only offer completion (Call-Info on the failure response); nothing automatic.
    Offer,
    /// Request a callback automatically.
    Callback,
    /// Camp on automatically.
    Campon,
}

impl Policy {
    /// The completion mode this policy requests, if any.
    pub fn mode(self) -> Option<CompletionMode> {
        match self {
            Policy::Offer => None,
            Policy::Callback => Some(CompletionMode::Callback),
            Policy::Campon => Some(CompletionMode::Campon),
        }
    }
}

/// A password or token: compared and serialized as is, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the code that must use it (digest, bearer check).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One line's settings with every override resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSettings {
    /// The line (user) name.
    pub name: String,
    /// The AOR, `sip:<name>@<domain>`.
    pub aor: String,
    /// The name shown to others: [`UserConfig::display_name`], else the line name.
    pub display: String,
    /// See [`UserConfig::call_waiting`].
    pub call_waiting: bool,
    /// See [`UserConfig::intrudable`].
    pub intrudable: bool,
    /// See [`UserConfig::on_busy`].
    pub on_busy: Policy,
    /// See [`UserConfig::on_no_answer`].
    pub on_no_answer: Policy,
    /// Effective busy hold for calls this line makes.
    pub busy_hold: Duration,
    /// Effective ring time for calls to this line.
    pub no_answer_timeout: Duration,
    /// Effective limit of outstanding requests of this line.
    pub max_call_completions: u32,
    /// Effective queue limit on this line as a callee.
    pub max_queue: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            domain: "127.0.0.1".to_owned(),
            sip: SipConfig::default(),
            registrar: RegistrarConfig::default(),
            auth: AuthConfig::default(),
            completion: CompletionConfig::default(),
            api: ApiConfig::default(),
            media: MediaConfig::default(),
            store: StoreConfig::default(),
            log: LogConfig::default(),
            users: BTreeMap::new(),
            trunks: Vec::new(),
        }
    }
}

impl Default for SipConfig {
    fn default() -> SipConfig {
        SipConfig {
            listen: vec![SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5060))],
            transports: vec![Transport::Udp, Transport::Tcp],
            no_answer_timeout: Duration::from_secs(30),
            max_forks: 10,
            max_calls: 100_000,
            tcp_max_connections: 1024,
            tcp_max_per_address: 32,
            tcp_message_timeout: Duration::from_secs(20),
            tcp_idle_timeout: Duration::from_secs(600),
            trusted: Vec::new(),
            advertise: None,
        }
    }
}

impl Default for RegistrarConfig {
    fn default() -> RegistrarConfig {
        RegistrarConfig {
            open: None,
            min_expires: Duration::from_secs(60),
            max_expires: Duration::from_secs(3600),
            max_contacts: 10,
            nat: NatMode::Auto,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            realm: None,
            // MD5 alone: see docs/decisions.md ("Digest: MD5 only by default").
            algorithms: vec![DigestAlgorithm::Md5],
            nonce_lifetime: Duration::from_secs(300),
            source_max_failures: 10,
            user_max_failures: 20,
            failure_window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
        }
    }
}

impl Default for CompletionConfig {
    fn default() -> CompletionConfig {
        CompletionConfig {
            modes: CompletionMode::ALL.to_vec(),
            max_call_completions: 5,
            max_queue: 10,
            offer_window: Duration::from_secs(20),
            busy_hold: Duration::ZERO,
            guard_ms: 1500,
            recall_ring: Duration::from_secs(20),
            recall_callee_ring: Duration::from_secs(30),
            recall_attempts: 3,
            campon_max: Duration::from_secs(300),
            ccbs_expiry: Duration::from_secs(3600),
            ccnr_expiry: Duration::from_secs(7200),
            ccnl_expiry: Duration::from_secs(7200),
            completion_messages: vec![
                "Please call me back.".to_owned(),
                "I tried to reach you; no need to call back.".to_owned(),
                "Please call me back, it is urgent.".to_owned(),
            ],
            feature_codes: FeatureCodes::default(),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8060)),
            token: None,
            max_connections: 128,
            max_event_clients: 32,
            header_timeout: Duration::from_secs(10),
            allowed_hosts: Vec::new(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            path: PathBuf::from("callcomp.db"),
        }
    }
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            level: LogLevel::Info,
            format: LogFormat::Text,
            malformed_interval: Duration::from_secs(10),
            sip_trace: Vec::new(),
        }
    }
}

impl Default for UserConfig {
    fn default() -> UserConfig {
        UserConfig {
            password: None,
            display_name: None,
            call_waiting: true,
            intrudable: true,
            on_busy: Policy::Offer,
            on_no_answer: Policy::Offer,
            busy_hold: None,
            no_answer_timeout: None,
            max_call_completions: None,
            max_queue: None,
        }
    }
}

impl Config {
    /// Whether unknown user names may register without a password: `registrar.open` when set,
    /// else true exactly when no users are configured (the no-file case of DESIGN §5).
    pub fn open_registration(&self) -> bool {
        self.registrar.open.unwrap_or(self.users.is_empty())
    }

    /// The digest realm: `auth.realm`, else the domain.
    pub fn realm(&self) -> &str {
        self.auth.realm.as_deref().unwrap_or(&self.domain)
    }

    /// The settings of a configured line, overrides resolved; `None` for an unknown name.
    pub fn line(&self, name: &str) -> Option<LineSettings> {
        let user = self.users.get(name)?;
        Some(self.resolve(name, user))
    }

    /// The settings for a user that registered under open registration without a `[users]`
    /// entry: the defaults of [`UserConfig`] with the global limits.
    pub fn open_line(&self, name: &str) -> LineSettings {
        self.resolve(name, &UserConfig::default())
    }

    fn resolve(&self, name: &str, user: &UserConfig) -> LineSettings {
        let c = &self.completion;
        LineSettings {
            name: name.to_owned(),
            aor: format!("sip:{name}@{}", self.domain),
            display: user.display_name.clone().unwrap_or_else(|| name.to_owned()),
            call_waiting: user.call_waiting,
            intrudable: user.intrudable,
            on_busy: user.on_busy,
            on_no_answer: user.on_no_answer,
            busy_hold: user.busy_hold.unwrap_or(c.busy_hold),
            no_answer_timeout: user.no_answer_timeout.unwrap_or(self.sip.no_answer_timeout),
            max_call_completions: user.max_call_completions.unwrap_or(c.max_call_completions),
            max_queue: user.max_queue.unwrap_or(c.max_queue),
        }
    }
}

/// Socket addresses written as `"IP:PORT"`, with a message that says so when they are not.
pub(super) mod socket_addr {
    use std::fmt;
    use std::net::SocketAddr;

    use serde::de::{self, SeqAccess, Visitor};
    use serde::Deserializer;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        d.deserialize_str(AddrVisitor)
    }

    pub(super) fn deserialize_list<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<SocketAddr>, D::Error> {
        d.deserialize_seq(ListVisitor)
    }

    struct AddrVisitor;

    impl Visitor<'_> for AddrVisitor {
        type Value = SocketAddr;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an address \"IP:PORT\" such as \"127.0.0.1:5060\" or \"[::1]:5060\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<SocketAddr, E> {
            v.parse().map_err(|_| {
                E::custom(format!(
                    "\"{v}\" is not an address \"IP:PORT\" such as \"127.0.0.1:5060\" or \
                     \"[::1]:5060\" (an IP address, not a host name, and a port)"
                ))
            })
        }
    }

    struct ListVisitor;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<SocketAddr>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of addresses such as [\"127.0.0.1:5060\"]")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<SocketAddr>, A::Error> {
            let mut out = Vec::new();
            while let Some(addr) = seq.next_element::<Item>()? {
                out.push(addr.0);
            }
            Ok(out)
        }
    }

    struct Item(SocketAddr);

    impl<'de> serde::Deserialize<'de> for Item {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
            deserialize(d).map(Item)
        }
    }
}

#[cfg(test)]
mod tests;
