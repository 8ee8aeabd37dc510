//! Request methods (RFC 3261 §7.1 and the extensions callcomp handles).
//!
//! Methods are case-sensitive tokens. Anything callcomp does not know is
//! [`Method::Extension`], kept verbatim so it can be answered with 501 or passed on.

use std::fmt;

/// A SIP request method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `INVITE` (RFC 3261).
    Invite,
    /// `ACK` (RFC 3261).
    Ack,
    /// `BYE` (RFC 3261).
    Bye,
    /// `CANCEL` (RFC 3261).
    Cancel,
    /// `OPTIONS` (RFC 3261).
    Options,
    /// `REGISTER` (RFC 3261).
    Register,
    /// `PRACK` (RFC 3262).
    Prack,
    /// `SUBSCRIBE` (RFC 6665).
    Subscribe,
    /// `NOTIFY` (RFC 6665).
    Notify,
    /// `PUBLISH` (RFC 3903).
    Publish,
    /// `INFO` (RFC 6086).
    Info,
    /// `REFER` (RFC 3515).
    Refer,
    /// `MESSAGE` (RFC 3428).
    Message,
    /// `UPDATE` (RFC 3311).
    Update,
    /// Any other token.
    Extension(Box<str>),
}

impl Method {
    /// Reads a method token; `None` when `s` is not a `token`.
    pub fn parse(s: &[u8]) -> Option<Method> {
        Some(match s {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"REGISTER" => Method::Register,
            b"PRACK" => Method::Prack,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"PUBLISH" => Method::Publish,
            b"INFO" => Method::Info,
            b"REFER" => Method::Refer,
            b"MESSAGE" => Method::Message,
            b"UPDATE" => Method::Update,
            other => {
                if other.is_empty() || !other.iter().all(|&b| crate::text::is_token_char(b)) {
                    return None;
                }
                // Token characters are ASCII, so this cannot fail.
                Method::Extension(std::str::from_utf8(other).ok()?.into())
            }
        })
    }

    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Update => "UPDATE",
            Method::Extension(name) => name,
        }
    }

    /// True for methods callcomp does not know.
    pub fn is_extension(&self) -> bool {
        matches!(self, Method::Extension(_))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_are_case_sensitive() {
        assert_eq!(Method::parse(b"INVITE"), Some(Method::Invite));
        assert_eq!(
            Method::parse(b"invite"),
            Some(Method::Extension("invite".into()))
        );
        // RFC 4475 §3.1.1.5: an escaped REGISTER is another method.
        assert_eq!(
            Method::parse(b"RE%47IST%45R").map(|m| m.is_extension()),
            Some(true)
        );
        assert_eq!(Method::parse(b"IN VITE"), None);
        assert_eq!(Method::parse(b""), None);
        assert_eq!(Method::Extension("NEWMETHOD".into()).as_str(), "NEWMETHOD");
    }
}
