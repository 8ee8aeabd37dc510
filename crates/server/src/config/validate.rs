//! The checks that types cannot express: ranges, emptiness, duplicates, names, and keys that
//! must agree with each other. [`check`] returns every finding, not just the first.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::load::quote_key;
use callcomp_switch::CompletionMode;

use super::{Config, ConfigErrorKind};

/// A problem found by [`check`], at a dotted key path.
pub(super) struct Finding {
    pub(super) key: String,
    pub(super) kind: ConfigErrorKind,
}

/// Something legal but worth saying when the server starts or the file is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// Any user name may register without a password.
    OpenRegistration,
    /// Registration is open and SIP listens beyond loopback: anyone who can reach the
    /// address can register any name and call as it.
    OpenRegistrationReachable {
        /// The first SIP listen address that is not loopback.
        listen: SocketAddr,
    },
    /// The API listens beyond loopback and no `api.token` is set.
    ApiWithoutToken {
        /// The API listen address.
        listen: SocketAddr,
    },
    /// Mode `message` is offered but `completion.completion_messages` is empty, so it will
    /// not be advertised.
    MessageModeWithoutMessages,
    /// The API listens beyond loopback with a token short enough to guess.
    ShortApiToken {
        /// The API listen address.
        listen: SocketAddr,
        /// The token's length.
        length: usize,
    },
    /// A trunk's address is not in `sip.trusted`: its requests to callcomp (calls, and
    /// SUBSCRIBEs of its agent) are treated as a stranger's.
    TrunkNotTrusted {
        /// The trunk's domain.
        domain: String,
        /// The trunk's address.
        address: SocketAddr,
    },
}

/// Tokens shorter than this draw a warning when the API listens beyond loopback (18 random
/// bytes in base64, `openssl rand -base64 18`, are 24 characters).
pub const MIN_TOKEN_LENGTH: usize = 24;

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::OpenRegistration => {
                f.write_str("registration is open: any user name may register without a password")
            }
            Warning::OpenRegistrationReachable { listen } => write!(
                f,
                "registration is open and SIP listens on {listen}, beyond loopback: anyone \
                 who reaches it can register any name and call as it (a lab mode; configure \
                 [users] with passwords)"
            ),
            Warning::ApiWithoutToken { listen } => write!(
                f,
                "the API listens on {listen}, beyond loopback, and api.token is not set"
            ),
            Warning::MessageModeWithoutMessages => {
                f.write_str("mode `message` is offered but completion.completion_messages is empty")
            }
            Warning::ShortApiToken { listen, length } => write!(
                f,
                "the API listens on {listen}, beyond loopback, and api.token has only {length} \
                 characters (use at least {MIN_TOKEN_LENGTH}, e.g. `openssl rand -base64 18`)"
            ),
            Warning::TrunkNotTrusted { domain, address } => write!(
                f,
                "trunk {domain} at {address} is not in sip.trusted: its calls and \
                 subscriptions to this server will be refused as a stranger's"
            ),
        }
    }
}

impl Config {
    /// Legal settings that deserve a warning in the log and in `check-config`.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut out = Vec::new();
        if self.open_registration() {
            out.push(Warning::OpenRegistration);
            if let Some(listen) = self.sip.listen.iter().find(|a| !a.ip().is_loopback()) {
                out.push(Warning::OpenRegistrationReachable { listen: *listen });
            }
        }
        if self.api.token.is_none() && !self.api.listen.ip().is_loopback() {
            out.push(Warning::ApiWithoutToken {
                listen: self.api.listen,
            });
        }
        if let Some(token) = &self.api.token {
            let length = token.expose().chars().count();
            if length < MIN_TOKEN_LENGTH && !self.api.listen.ip().is_loopback() {
                out.push(Warning::ShortApiToken {
                    listen: self.api.listen,
                    length,
                });
            }
        }
        if self.completion.modes.contains(&CompletionMode::Message)
            && self.completion.completion_messages.is_empty()
        {
            out.push(Warning::MessageModeWithoutMessages);
        }
        for trunk in &self.trunks {
            if !self
                .sip
                .trusted
                .iter()
                .any(|c| c.contains(trunk.address.ip()))
            {
                out.push(Warning::TrunkNotTrusted {
                    domain: trunk.domain.clone(),
                    address: trunk.address,
                });
            }
        }
        out
    }
}

/// Longest predefined message, in bytes (it travels in one SIP MESSAGE).
pub(super) const MAX_MESSAGE_BYTES: usize = 500;
/// Most predefined messages.
pub(super) const MAX_MESSAGES: usize = 100;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Runs every check on a deserialized configuration.
pub(super) fn check(config: &Config) -> Vec<Finding> {
    let mut f = Findings(Vec::new());

    if config.domain.is_empty() {
        f.push("domain", ConfigErrorKind::Empty);
    } else if !is_host(&config.domain) {
        f.push("domain", ConfigErrorKind::InvalidDomain);
    }

    let sip = &config.sip;
    if sip.listen.is_empty() {
        f.push("sip.listen", ConfigErrorKind::Empty);
    }
    f.duplicates("sip.listen", &sip.listen);
    if sip.transports.is_empty() {
        f.push("sip.transports", ConfigErrorKind::Empty);
    }
    f.duplicates("sip.transports", &sip.transports);
    f.duplicates("sip.trusted", &sip.trusted);
    if sip.trusted.len() > MAX_TRUSTED {
        f.push("sip.trusted", ConfigErrorKind::TooLong { max: MAX_TRUSTED });
    }
    f.duration(
        "sip.no_answer_timeout",
        sip.no_answer_timeout,
        false,
        10 * MINUTE,
        "1s to 10m",
    );
    f.range("sip.max_forks", sip.max_forks.into(), 1, 100, "1 to 100");
    f.range(
        "sip.max_calls",
        sip.max_calls.into(),
        1,
        10_000_000,
        "1 to 10000000",
    );
    f.range(
        "sip.tcp_max_connections",
        sip.tcp_max_connections.into(),
        1,
        65_536,
        "1 to 65536",
    );
    f.range(
        "sip.tcp_max_per_address",
        sip.tcp_max_per_address.into(),
        1,
        65_536,
        "1 to 65536",
    );
    if sip.tcp_max_per_address > sip.tcp_max_connections {
        f.push(
            "sip.tcp_max_per_address",
            ConfigErrorKind::MinAboveMax {
                max_key: "sip.tcp_max_connections",
            },
        );
    }
    f.duration(
        "sip.tcp_message_timeout",
        sip.tcp_message_timeout,
        false,
        5 * MINUTE,
        "1s to 5m",
    );
    f.duration(
        "sip.tcp_idle_timeout",
        sip.tcp_idle_timeout,
        false,
        DAY,
        "1s to 1d",
    );

    let reg = &config.registrar;
    if reg.open == Some(false) && config.users.is_empty() {
        f.push("registrar.open", ConfigErrorKind::NobodyCanRegister);
    }
    f.duration(
        "registrar.min_expires",
        reg.min_expires,
        false,
        DAY,
        "1s to 1d",
    );
    f.duration(
        "registrar.max_expires",
        reg.max_expires,
        false,
        7 * DAY,
        "1s to 7d",
    );
    f.range(
        "registrar.max_contacts",
        reg.max_contacts.into(),
        1,
        1000,
        "1 to 1000",
    );
    if reg.min_expires > reg.max_expires {
        f.push(
            "registrar.min_expires",
            ConfigErrorKind::MinAboveMax {
                max_key: "registrar.max_expires",
            },
        );
    }

    check_auth(&mut f, config);
    check_media(&mut f, &config.media);

    let c = &config.completion;
    f.duplicates("completion.modes", &c.modes);
    f.range(
        "completion.max_call_completions",
        c.max_call_completions.into(),
        0,
        1000,
        "0 to 1000",
    );
    f.range(
        "completion.max_queue",
        c.max_queue.into(),
        1,
        10_000,
        "1 to 10000",
    );
    f.duration(
        "completion.offer_window",
        c.offer_window,
        false,
        HOUR,
        "1s to 1h",
    );
    f.duration(
        "completion.busy_hold",
        c.busy_hold,
        true,
        5 * MINUTE,
        "0s to 5m",
    );
    f.range("completion.guard_ms", c.guard_ms, 0, 60_000, "0 to 60000");
    f.duration(
        "completion.recall_ring",
        c.recall_ring,
        false,
        10 * MINUTE,
        "1s to 10m",
    );
    f.duration(
        "completion.recall_callee_ring",
        c.recall_callee_ring,
        false,
        10 * MINUTE,
        "1s to 10m",
    );
    f.range(
        "completion.recall_attempts",
        c.recall_attempts.into(),
        1,
        100,
        "1 to 100",
    );
    f.duration(
        "completion.campon_max",
        c.campon_max,
        false,
        DAY,
        "1s to 1d",
    );
    f.duration(
        "completion.ccbs_expiry",
        c.ccbs_expiry,
        false,
        30 * DAY,
        "1s to 30d",
    );
    f.duration(
        "completion.ccnr_expiry",
        c.ccnr_expiry,
        false,
        30 * DAY,
        "1s to 30d",
    );
    f.duration(
        "completion.ccnl_expiry",
        c.ccnl_expiry,
        false,
        30 * DAY,
        "1s to 30d",
    );
    if c.completion_messages.len() > MAX_MESSAGES {
        f.push(
            "completion.completion_messages",
            ConfigErrorKind::TooLong { max: MAX_MESSAGES },
        );
    }
    for (id, text) in c.completion_messages.iter().enumerate() {
        f.text(
            &format!("completion.completion_messages[{id}]"),
            text,
            MAX_MESSAGE_BYTES,
        );
    }

    check_feature_codes(&mut f, config);
    super::trunks::check(config, &mut f);

    if let Some(token) = &config.api.token {
        let token = token.expose();
        if token.is_empty() {
            f.push("api.token", ConfigErrorKind::Empty);
        } else if !is_visible_ascii(token) {
            f.push("api.token", ConfigErrorKind::InvalidSecret);
        } else if token.len() > 256 {
            f.push("api.token", ConfigErrorKind::TooLong { max: 256 });
        }
    }

    let api = &config.api;
    f.range(
        "api.max_connections",
        api.max_connections.into(),
        1,
        10_000,
        "1 to 10000",
    );
    f.range(
        "api.max_event_clients",
        api.max_event_clients.into(),
        1,
        10_000,
        "1 to 10000",
    );
    f.duration(
        "api.header_timeout",
        api.header_timeout,
        false,
        5 * MINUTE,
        "1s to 5m",
    );
    for (i, host) in api.allowed_hosts.iter().enumerate() {
        if !is_host(host) {
            f.push(
                &format!("api.allowed_hosts[{i}]"),
                ConfigErrorKind::InvalidDomain,
            );
        }
    }
    f.duplicates("api.allowed_hosts", &api.allowed_hosts);

    f.duration(
        "log.malformed_interval",
        config.log.malformed_interval,
        false,
        HOUR,
        "1s to 1h",
    );
    f.duplicates("log.sip_trace", &config.log.sip_trace);
    for (i, item) in config.log.sip_trace.iter().enumerate() {
        let key = format!("log.sip_trace[{i}]");
        if item.is_empty() {
            f.push(&key, ConfigErrorKind::Empty);
        } else if !is_visible_ascii(item) {
            f.push(&key, ConfigErrorKind::InvalidTraceFilter);
        } else if item.len() > 256 {
            f.push(&key, ConfigErrorKind::TooLong { max: 256 });
        }
    }

    if config.store.path.as_os_str().is_empty() {
        f.push("store.path", ConfigErrorKind::Empty);
    }

    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (name, user) in &config.users {
        let at = format!("users.{}", quote_key(name));
        if !is_user_name(name) {
            f.push(&at, ConfigErrorKind::InvalidUserName);
        }
        if let Some(first) = seen.insert(name.to_ascii_lowercase(), name) {
            f.push(
                &at,
                ConfigErrorKind::Duplicate {
                    first: format!("users.{}", quote_key(first)),
                },
            );
        }
        if let Some(password) = &user.password {
            let key = format!("{at}.password");
            if password.expose().is_empty() {
                f.push(&key, ConfigErrorKind::Empty);
            } else if password.expose().chars().any(char::is_control) {
                f.push(&key, ConfigErrorKind::ControlCharacter);
            } else if password.expose().len() > 256 {
                f.push(&key, ConfigErrorKind::TooLong { max: 256 });
            }
        }
        if let Some(display) = &user.display_name {
            f.text(&format!("{at}.display_name"), display, 128);
        }
        for (policy, key) in [
            (user.on_busy, "on_busy"),
            (user.on_no_answer, "on_no_answer"),
        ] {
            if let Some(mode) = policy.mode() {
                if !c.modes.contains(&mode) {
                    f.push(
                        &format!("{at}.{key}"),
                        ConfigErrorKind::ModeNotOffered { mode },
                    );
                }
            }
        }
        if let Some(d) = user.busy_hold {
            f.duration(&format!("{at}.busy_hold"), d, true, 5 * MINUTE, "0s to 5m");
        }
        if let Some(d) = user.no_answer_timeout {
            f.duration(
                &format!("{at}.no_answer_timeout"),
                d,
                false,
                10 * MINUTE,
                "1s to 10m",
            );
        }
        if let Some(n) = user.max_call_completions {
            f.range(
                &format!("{at}.max_call_completions"),
                n.into(),
                0,
                1000,
                "0 to 1000",
            );
        }
        if let Some(n) = user.max_queue {
            f.range(
                &format!("{at}.max_queue"),
                n.into(),
                1,
                10_000,
                "1 to 10000",
            );
        }
    }
    f.0
}

/// Most entries of `sip.trusted` (each request is checked against every one).
pub(super) const MAX_TRUSTED: usize = 256;

fn check_auth(f: &mut Findings, config: &Config) {
    let auth = &config.auth;
    if let Some(realm) = &auth.realm {
        f.text("auth.realm", realm, 128);
        if realm.contains('"') || realm.contains('\\') {
            f.push("auth.realm", ConfigErrorKind::Quote);
        }
    }
    if auth.algorithms.is_empty() {
        f.push("auth.algorithms", ConfigErrorKind::Empty);
    }
    f.duplicates("auth.algorithms", &auth.algorithms);
    f.duration(
        "auth.nonce_lifetime",
        auth.nonce_lifetime,
        false,
        HOUR,
        "1s to 1h",
    );
    f.range(
        "auth.source_max_failures",
        auth.source_max_failures.into(),
        0,
        10_000,
        "0 to 10000",
    );
    f.range(
        "auth.user_max_failures",
        auth.user_max_failures.into(),
        0,
        10_000,
        "0 to 10000",
    );
    f.duration(
        "auth.failure_window",
        auth.failure_window,
        false,
        DAY,
        "1s to 1d",
    );
    f.duration("auth.lockout", auth.lockout, false, DAY, "1s to 1d");
}

/// `[completion.feature_codes]`: each code dialable, distinct, for an offered mode, and not a
/// user's name.
fn check_feature_codes(f: &mut Findings, config: &Config) {
    let codes = config.completion.feature_codes.entries();
    for (i, (name, code)) in codes.iter().enumerate() {
        if code.is_empty() {
            continue;
        }
        let key = format!("completion.feature_codes.{name}");
        if !is_feature_code(code) {
            f.push(&key, ConfigErrorKind::InvalidFeatureCode);
            continue;
        }
        if let Some((first, _)) = codes[..i].iter().find(|(_, c)| c == code) {
            f.push(
                &key,
                ConfigErrorKind::Duplicate {
                    first: format!("completion.feature_codes.{first}"),
                },
            );
        }
        let mode = match *name {
            "callback" => Some(CompletionMode::Callback),
            "message" => Some(CompletionMode::Message),
            _ => None,
        };
        if let Some(mode) = mode.filter(|m| !config.completion.modes.contains(m)) {
            f.push(&key, ConfigErrorKind::FeatureCodeModeNotOffered { mode });
        }
        if config.users.contains_key(*code) {
            f.push(&key, ConfigErrorKind::FeatureCodeIsUser);
        }
    }
}

fn check_media(f: &mut Findings, media: &super::MediaConfig) {
    if media.address.is_unspecified() || media.address.is_multicast() {
        f.push("media.address", ConfigErrorKind::NotUnicastAddress);
    }
    let ports = media.rtp_ports;
    if ports.first < 1024 || ports.first > ports.last || ports.endpoints() == 0 {
        f.push(
            "media.rtp_ports",
            ConfigErrorKind::OutOfRange {
                range: "FIRST-LAST within 1024-65535, FIRST below LAST, at least one even port with its odd neighbour",
            },
        );
    }
    for (name, tone) in media.tones.given() {
        let at = format!("media.tones.{name}");
        if tone.frequencies.is_empty() {
            f.push(&format!("{at}.frequencies"), ConfigErrorKind::Empty);
        } else if tone.cadence_ms.is_empty() {
            f.push(&format!("{at}.cadence_ms"), ConfigErrorKind::Empty);
        } else if let Err(e) = tone.tone().validate() {
            f.push(&at, ConfigErrorKind::InvalidTone(e));
        }
    }
    for (name, path) in &media.announcements {
        let at = format!("media.announcements.{}", quote_key(name));
        if !is_user_name(name) {
            f.push(
                &at,
                ConfigErrorKind::Schema {
                    message: "invalid announcement name: use 1 to 64 of a-z A-Z 0-9 . _ - + ~"
                        .to_owned(),
                },
            );
        } else if path.as_os_str().is_empty() {
            f.push(&at, ConfigErrorKind::Empty);
        }
    }
    if let Some(name) = &media.recall_announcement {
        if !media.announcements.contains_key(name) && name != crate::media::BUILTIN_CHIME {
            f.push(
                "media.recall_announcement",
                ConfigErrorKind::UnknownAnnouncement { name: name.clone() },
            );
        }
    }
}

/// A dialled code: 1 to 16 of `0-9 * #`.
fn is_feature_code(code: &str) -> bool {
    (1..=16).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'#'))
}

pub(super) struct Findings(Vec<Finding>);

impl Findings {
    pub(super) fn push(&mut self, key: &str, kind: ConfigErrorKind) {
        self.0.push(Finding {
            key: key.to_owned(),
            kind,
        });
    }

    /// A duration in `[min, max]`, where `min` is zero when `zero_ok`, else one second.
    fn duration(
        &mut self,
        key: &str,
        d: Duration,
        zero_ok: bool,
        max: Duration,
        range: &'static str,
    ) {
        if d.is_zero() && !zero_ok {
            self.push(key, ConfigErrorKind::MustBePositive);
        } else if (!zero_ok && d < SECOND) || d > max {
            self.push(key, ConfigErrorKind::OutOfRange { range });
        }
    }

    pub(super) fn range(&mut self, key: &str, n: u64, min: u64, max: u64, range: &'static str) {
        if n == 0 && min > 0 {
            self.push(key, ConfigErrorKind::MustBePositive);
        } else if n < min || n > max {
            self.push(key, ConfigErrorKind::OutOfRange { range });
        }
    }

    fn duplicates<T: PartialEq>(&mut self, key: &str, items: &[T]) {
        for (i, item) in items.iter().enumerate() {
            if let Some(j) = items[..i].iter().position(|x| x == item) {
                self.push(
                    &format!("{key}[{i}]"),
                    ConfigErrorKind::Duplicate {
                        first: format!("{key}[{j}]"),
                    },
                );
            }
        }
    }

    /// A free text: not empty, no control characters, at most `max` bytes.
    fn text(&mut self, key: &str, text: &str, max: usize) {
        if text.trim().is_empty() {
            self.push(key, ConfigErrorKind::Empty);
        } else if text.chars().any(char::is_control) {
            self.push(key, ConfigErrorKind::ControlCharacter);
        } else if text.len() > max {
            self.push(key, ConfigErrorKind::TooLong { max });
        }
    }
}

/// A user name is the user part of the AOR and a path segment of the API: a conservative
/// subset of RFC 3261 `unreserved`, 1 to 64 characters.
fn is_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'~'))
}

/// RFC 3261 `host`: a host name (dot-separated labels of letters, digits and inner hyphens,
/// an optional final dot), an IPv4 address, or an IPv6 address in brackets.
pub(super) fn is_host(s: &str) -> bool {
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // the last label of a host name is not all digits (that would be a bad IPv4)
        && !name
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

fn is_visible_ascii(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}
