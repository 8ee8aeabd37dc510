//! `[[trunks]]`: the other SIP servers callcomp sends calls to (issue #11 item 4). A call whose
//! Request-URI host is a trunk's `domain` goes to that trunk's `address` instead of to a local
//! user. The trunk sees callcomp as a trusted peer when callcomp's address is in its
//! `sip.trusted`; callcomp sees the trunk's requests the same way when the trunk's address is
//! in callcomp's own `sip.trusted` (the warning [`super::Warning::TrunkNotTrusted`] says when
//! it is not).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::validate::{is_host, Findings};
use super::{Config, ConfigErrorKind, Transport};

/// One `[[trunks]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// The SIP domain the trunk serves: calls to `sip:user@<domain>` go to this trunk.
    pub domain: String,
    /// Where the trunk's server listens (`IP:PORT`).
    #[serde(deserialize_with = "super::socket_addr::deserialize")]
    pub address: SocketAddr,
    /// The transport to reach it over.
    #[serde(default = "udp")]
    pub transport: Transport,
    /// The most completion requests the trunk's subscribers may have outstanding here at once
    /// (callcomp as their RFC 6910 monitor); 0 refuses their subscriptions.
    #[serde(default = "default_trunk_completions")]
    pub max_call_completions: u32,
}

fn udp() -> Transport {
    Transport::Udp
}

/// `[[trunks]].max_call_completions` when not given.
pub const DEFAULT_TRUNK_COMPLETIONS: u32 = 20;

fn default_trunk_completions() -> u32 {
    DEFAULT_TRUNK_COMPLETIONS
}

/// Most `[[trunks]]` entries (each out-of-domain call is checked against every one).
pub const MAX_TRUNKS: usize = 64;

impl Config {
    /// The trunk serving `host` (case-insensitive), if any.
    pub fn trunk_for(&self, host: &str) -> Option<&TrunkConfig> {
        self.trunks
            .iter()
            .find(|t| t.domain.eq_ignore_ascii_case(host))
    }

    /// The trunk whose server is at `address`'s IP, if any. Only the IP counts: a server
    /// may send from another port than it listens on (callcomp's own UDP client sockets do).
    pub fn trunk_at(&self, address: SocketAddr) -> Option<&TrunkConfig> {
        self.trunks.iter().find(|t| t.address.ip() == address.ip())
    }
}

/// The checks of `[[trunks]]`: a domain that is a host and not callcomp's own, an address
/// that is not one callcomp listens on (a loop), no domain twice.
pub(super) fn check(config: &Config, f: &mut Findings) {
    if config.trunks.len() > MAX_TRUNKS {
        f.push("trunks", ConfigErrorKind::TooLong { max: MAX_TRUNKS });
    }
    for (i, trunk) in config.trunks.iter().enumerate() {
        let key = |field: &str| format!("trunks[{i}].{field}");
        if trunk.domain.is_empty() {
            f.push(&key("domain"), ConfigErrorKind::Empty);
        } else if !is_host(&trunk.domain) {
            f.push(&key("domain"), ConfigErrorKind::InvalidDomain);
        } else if trunk.domain.eq_ignore_ascii_case(&config.domain) {
            f.push(&key("domain"), ConfigErrorKind::TrunkIsOwnDomain);
        }
        if config.sip.listen.contains(&trunk.address) {
            f.push(&key("address"), ConfigErrorKind::TrunkLoops);
        }
        if !config.sip.transports.contains(&trunk.transport) {
            f.push(
                &key("transport"),
                ConfigErrorKind::Schema {
                    message: "this transport is not in sip.transports".to_owned(),
                },
            );
        }
        f.range(
            &key("max_call_completions"),
            trunk.max_call_completions.into(),
            0,
            10_000,
            "0 to 10000",
        );
        if let Some(j) = config.trunks[..i]
            .iter()
            .position(|t| t.domain.eq_ignore_ascii_case(&trunk.domain))
        {
            f.push(
                &key("domain"),
                ConfigErrorKind::Duplicate {
                    first: format!("trunks[{j}].domain"),
                },
            );
        }
    }
}
