//! Whom a completion request waits for: a line of this switch, or a party on another server
//! reached over a trunk (RFC 6910 §5, the agent role; issue #11 item 4).
//!
//! A line's request learns the callee's availability from the calls the switch sees; a remote
//! one only from the remote monitor's NOTIFY (`cc-state: ready`, reported as
//! [`CompletionFact::RemoteReady`](crate::completion::CompletionFact::RemoteReady)). Both queue
//! under their [`CompletionTarget::key`]: a line's name, or the remote AOR (`sip:user@host`),
//! which contains a `:` and so is never a line's name.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The callee of a request. Stored and exported untagged: a line as its name (as before
/// remote targets existed), a remote party as an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CompletionTarget {
    /// A line of this switch, by name.
    Line(String),
    /// A party on another server, whose monitor took the request.
    Remote(RemoteTarget),
}

/// A remote callee and where its monitor is (the failed call's `Call-Info`, RFC 6910 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RemoteTarget {
    /// The remote party as dialled: `sip:user@<trunk domain>`.
    pub aor: String,
    /// The monitor URI the failed call offered (where the agent subscribes).
    pub monitor: String,
    /// The offer's `m` (`BS`, `NR`, `NL`), if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<String>,
    /// The request's `cc-URI` at the monitor, once a NOTIFY named it (the CC call's
    /// Request-URI; the monitor URI until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc_uri: Option<String>,
}

impl RemoteTarget {
    /// Where the CC call goes: the `cc-URI`, else the monitor URI.
    pub fn cc_call_uri(&self) -> &str {
        self.cc_uri.as_deref().unwrap_or(&self.monitor)
    }
}

impl CompletionTarget {
    /// The name the request queues under: the line's name, or the remote AOR.
    pub fn key(&self) -> &str {
        match self {
            CompletionTarget::Line(line) => line,
            CompletionTarget::Remote(r) => &r.aor,
        }
    }

    /// The callee's line, for a local target.
    pub fn line(&self) -> Option<&str> {
        match self {
            CompletionTarget::Line(line) => Some(line),
            CompletionTarget::Remote(_) => None,
        }
    }

    /// The remote callee, for a remote target.
    pub fn remote(&self) -> Option<&RemoteTarget> {
        match self {
            CompletionTarget::Line(_) => None,
            CompletionTarget::Remote(r) => Some(r),
        }
    }

    /// The API name of the kind: `line` or `remote`.
    pub const fn kind(&self) -> &'static str {
        match self {
            CompletionTarget::Line(_) => "line",
            CompletionTarget::Remote(_) => "remote",
        }
    }
}

impl fmt::Display for CompletionTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl PartialEq<str> for CompletionTarget {
    fn eq(&self, other: &str) -> bool {
        self.key() == other
    }
}

impl PartialEq<&str> for CompletionTarget {
    fn eq(&self, other: &&str) -> bool {
        self.key() == *other
    }
}

impl PartialEq<String> for CompletionTarget {
    fn eq(&self, other: &String) -> bool {
        self.key() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> CompletionTarget {
        CompletionTarget::Remote(RemoteTarget {
            aor: "sip:bob@b.test".into(),
            monitor: "sip:cc@b.test".into(),
            m: Some("BS".into()),
            cc_uri: None,
        })
    }

    /// A line stays a bare string in rows written before remote targets existed; a remote
    /// target is an object; both read back as they were.
    #[test]
    fn lines_stay_strings_and_remotes_round_trip() {
        let line = CompletionTarget::Line("bob".into());
        assert_eq!(serde_json::to_string(&line).unwrap(), "\"bob\"");
        let back: CompletionTarget = serde_json::from_str("\"bob\"").unwrap();
        assert_eq!(back, line);
        let r = remote();
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"aor":"sip:bob@b.test","monitor":"sip:cc@b.test","m":"BS"}"#
        );
        assert_eq!(serde_json::from_str::<CompletionTarget>(&text).unwrap(), r);
    }

    #[test]
    fn keys_kinds_and_the_cc_call_uri() {
        let r = remote();
        assert_eq!(r.key(), "sip:bob@b.test");
        assert_eq!((r.kind(), r.line()), ("remote", None));
        assert_eq!(
            r.remote().map(RemoteTarget::cc_call_uri),
            Some("sip:cc@b.test")
        );
        let mut with_uri = r.remote().cloned().unwrap();
        with_uri.cc_uri = Some("sip:cc-7@b.test".into());
        assert_eq!(with_uri.cc_call_uri(), "sip:cc-7@b.test");
        let line = CompletionTarget::Line("bob".into());
        assert_eq!((line.kind(), line.line()), ("line", Some("bob")));
        assert!(line == "bob" && r != "bob");
    }
}
