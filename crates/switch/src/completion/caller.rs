//! Who a completion request is for: one of the switch's lines, or a subscriber of another
//! server that asked over a trusted trunk (RFC 6910 §7 monitor role for a trunk's user,
//! docs/completion.md "Monitor side for a trunk's subscriber").
//!
//! A trunk subscriber has no line here: no call of its own in this switch, no events of its
//! own (the `completion` events of its request are about the callee's line), never recalled
//! (its `ready` is the NOTIFY to the trunk; its server recalls its user and places the CC call).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A subscriber of another server, keyed by the trunk it came over and its address of record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TrunkCaller {
    /// The trunk's domain (`[[trunks]].domain`).
    pub trunk: String,
    /// The subscriber's address of record, `sip:user@host` (lower-case host, no parameters).
    pub aor: String,
}

/// The caller of a completion request. Stored untagged: a line is its name (as before this
/// type existed), a trunk subscriber an object `{"trunk": …, "aor": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Caller {
    /// A line of this switch.
    Line(String),
    /// A subscriber of another server, over a trunk.
    Trunk(TrunkCaller),
}

impl Caller {
    /// The caller's line, if it is one.
    pub fn line(&self) -> Option<&str> {
        match self {
            Caller::Line(line) => Some(line),
            Caller::Trunk(_) => None,
        }
    }

    /// The trunk subscriber, if it is one.
    pub fn trunk(&self) -> Option<&TrunkCaller> {
        match self {
            Caller::Line(_) => None,
            Caller::Trunk(t) => Some(t),
        }
    }

    /// Whether this caller is line `line`.
    pub fn is_line(&self, line: &str) -> bool {
        self.line() == Some(line)
    }

    /// The local line that speaks for a request of this caller to `target`: the caller's own
    /// line, or for a trunk subscriber the callee's (events name it, the API cancels there).
    pub fn line_for<'a>(&'a self, target: &'a str) -> &'a str {
        self.line().unwrap_or(target)
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Line(line) => f.write_str(line),
            Caller::Trunk(t) => write!(f, "{} via {}", t.aor, t.trunk),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_stores_as_its_name_and_a_trunk_subscriber_as_an_object() {
        let line = Caller::Line("alice".into());
        assert_eq!(serde_json::to_string(&line).unwrap(), "\"alice\"");
        let trunk = Caller::Trunk(TrunkCaller {
            trunk: "b.test".into(),
            aor: "sip:carol@b.test".into(),
        });
        let json = serde_json::to_string(&trunk).unwrap();
        assert_eq!(json, r#"{"trunk":"b.test","aor":"sip:carol@b.test"}"#);
        for c in [line, trunk] {
            let back: Caller = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn the_line_speaking_for_a_request() {
        let line = Caller::Line("alice".into());
        assert_eq!(line.line_for("bob"), "alice");
        assert!(line.is_line("alice") && !line.is_line("bob"));
        let trunk = Caller::Trunk(TrunkCaller {
            trunk: "b.test".into(),
            aor: "sip:carol@b.test".into(),
        });
        assert_eq!(trunk.line_for("bob"), "bob");
        assert_eq!(trunk.line(), None);
        assert_eq!(trunk.to_string(), "sip:carol@b.test via b.test");
    }
}
