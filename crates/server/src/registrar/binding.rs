//! A registered contact of an address of record (RFC 3261 §10.3), as the registrar keeps
//! it in memory and in the store.

use crate::transport::Target;

/// One binding: a contact address under which a user can be reached, until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The address of record, `sip:<user>@<domain>`.
    pub aor: String,
    /// The contact URI as the phone wrote it.
    pub contact_uri: String,
    /// When the binding expires, in milliseconds since the UNIX epoch.
    pub expires_at_ms: u64,
    /// The `q` preference in thousandths (1000 = 1.0), when the phone gave one.
    pub q: Option<u16>,
    /// The Call-ID of the REGISTER that made or refreshed it.
    pub call_id: String,
    /// The CSeq number of that REGISTER.
    pub cseq: u32,
    /// Where the REGISTER came from: requests to the phone go there (NAT-friendly), not to
    /// the contact URI's host. `None` for a binding whose source is unknown.
    pub source: Option<Target>,
    /// The phone's User-Agent, for display.
    pub user_agent: Option<String>,
    /// The `+sip.instance` of the contact (RFC 5626), when given.
    pub instance: Option<String>,
    /// When it was last written, in milliseconds since the UNIX epoch.
    pub updated_at_ms: u64,
}

impl Binding {
    /// Whether the binding is still in force at `now_ms`.
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at_ms > now_ms
    }

    /// Whole seconds left at `now_ms` (rounded up, so a live binding never shows 0).
    pub fn remaining_secs(&self, now_ms: u64) -> u64 {
        self.expires_at_ms.saturating_sub(now_ms).div_ceil(1000)
    }

    /// The `q` value for ordering, where an absent `q` counts as 1.0 (RFC 3261 §20.10 leaves
    /// it to the registrar; most registrars treat it as the highest preference).
    pub fn preference(&self) -> u16 {
        self.q.unwrap_or(1000)
    }
}

impl From<&Binding> for crate::api::RegistrationView {
    fn from(b: &Binding) -> crate::api::RegistrationView {
        crate::api::RegistrationView {
            contact: b.contact_uri.clone(),
            source: b.source.map(|s| s.remote.to_string()),
            transport: b.source.map(|s| s.proto.as_str().to_owned()),
            expires_ms: b.expires_at_ms,
            q: b.q,
            user_agent: b.user_agent.clone(),
            instance: b.instance.clone(),
            updated_ms: b.updated_at_ms,
        }
    }
}

impl From<&Binding> for crate::store::Binding {
    fn from(b: &Binding) -> crate::store::Binding {
        crate::store::Binding {
            aor: b.aor.clone(),
            contact_uri: b.contact_uri.clone(),
            expires_at_ms: b.expires_at_ms,
            q: b.q.unwrap_or(crate::store::MAX_Q).min(crate::store::MAX_Q),
            call_id: b.call_id.clone(),
            cseq: b.cseq,
            received: b.source.map(|s| s.remote.to_string()).unwrap_or_default(),
            transport: b
                .source
                .map(|s| s.proto.as_str().to_owned())
                .unwrap_or_default(),
            user_agent: b.user_agent.clone().unwrap_or_default(),
            instance: b.instance.clone(),
            updated_at_ms: b.updated_at_ms,
        }
    }
}

impl From<crate::store::Binding> for Binding {
    /// A stored binding; its source comes back without the TCP connection (which did not
    /// survive the restart), and q=1 reads as "no q".
    fn from(b: crate::store::Binding) -> Binding {
        let proto = match b.transport.as_str() {
            "UDP" => Some(crate::transport::Proto::Udp),
            "TCP" => Some(crate::transport::Proto::Tcp),
            _ => None,
        };
        let source = match (proto, b.received.parse()) {
            (Some(proto), Ok(remote)) => Some(Target {
                proto,
                remote,
                conn: None,
            }),
            _ => None,
        };
        Binding {
            aor: b.aor,
            contact_uri: b.contact_uri,
            expires_at_ms: b.expires_at_ms,
            q: (b.q < crate::store::MAX_Q).then_some(b.q),
            call_id: b.call_id,
            cseq: b.cseq,
            source,
            user_agent: (!b.user_agent.is_empty()).then_some(b.user_agent),
            instance: b.instance,
            updated_at_ms: b.updated_at_ms,
        }
    }
}
