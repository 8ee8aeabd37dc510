//! `Subscription-State` (RFC 6665 §8.2.3): the state of a subscription as a NOTIFY
//! reports it, with the time left (`expires`), why it ended (`reason`) and when to try
//! again (`retry-after`).
//!
//! The state names are ABNF literals and so case-insensitive (RFC 5234 §2.3); the known ones
//! are written in lower case, any other is kept as written.

use std::fmt;
use std::fmt::Write as _;

use crate::header_name::HeaderName;
use crate::headers::{parse_number, Header, HeaderError};
use crate::params::Params;
use crate::text;

/// The `substate-value` of a `Subscription-State`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubState {
    /// `active`: the subscription is accepted and running.
    Active,
    /// `pending`: received but not yet authorized.
    Pending,
    /// `terminated`: over; see the reason.
    Terminated,
    /// An extension state (a token), as written.
    Other(String),
}

/// A `Subscription-State` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    /// The state.
    pub state: SubState,
    /// The parameters in order (`expires`, `reason`, `retry-after`, others).
    pub params: Params,
}

impl SubState {
    /// The state as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            SubState::Active => "active",
            SubState::Pending => "pending",
            SubState::Terminated => "terminated",
            SubState::Other(s) => s,
        }
    }
}

impl fmt::Display for SubState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SubscriptionState {
    /// `active;expires=<seconds>`.
    pub fn active(expires: u32) -> SubscriptionState {
        SubscriptionState::with_expires(SubState::Active, expires)
    }

    /// `pending;expires=<seconds>`.
    pub fn pending(expires: u32) -> SubscriptionState {
        SubscriptionState::with_expires(SubState::Pending, expires)
    }

    /// `terminated`, with `;reason=<reason>` when a reason (a token such as `timeout`,
    /// `noresource` or `rejected`) is given.
    pub fn terminated(reason: Option<&str>) -> SubscriptionState {
        let mut params = Params::new();
        if let Some(reason) = reason {
            params.push("reason", Some(reason.to_string()));
        }
        SubscriptionState {
            state: SubState::Terminated,
            params,
        }
    }

    fn with_expires(state: SubState, expires: u32) -> SubscriptionState {
        let mut params = Params::new();
        params.push("expires", Some(expires.to_string()));
        SubscriptionState { state, params }
    }

    /// The `expires` parameter: seconds left in the subscription.
    pub fn expires(&self) -> Option<u32> {
        self.seconds("expires")
    }

    /// The `reason` parameter (`deactivated`, `probation`, `rejected`, `timeout`, `giveup`,
    /// `noresource`, `invariant` or an extension), as written.
    pub fn reason(&self) -> Option<&str> {
        self.params.value("reason")
    }

    /// The `retry-after` parameter: seconds to wait before subscribing again.
    pub fn retry_after(&self) -> Option<u32> {
        self.seconds("retry-after")
    }

    fn seconds(&self, name: &str) -> Option<u32> {
        let value = self.params.value(name)?;
        parse_number(value, u64::from(u32::MAX))
            .ok()
            .and_then(|n| u32::try_from(n).ok())
    }
}

impl Header for SubscriptionState {
    const NAME: HeaderName = HeaderName::SubscriptionState;

    /// Parses `substate-value *( ";" subexp-params )`. An `expires` or `retry-after` that is
    /// not a number up to 2^32-1, or a `reason` that is not a token, is an error.
    fn parse(value: &str) -> Result<SubscriptionState, HeaderError> {
        let value = text::trim_wsp(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let (state, rest) = value.split_at(value.find(';').unwrap_or(value.len()));
        let state = text::trim_wsp(state);
        let state = if state.eq_ignore_ascii_case("active") {
            SubState::Active
        } else if state.eq_ignore_ascii_case("pending") {
            SubState::Pending
        } else if state.eq_ignore_ascii_case("terminated") {
            SubState::Terminated
        } else if text::is_token(state) {
            SubState::Other(state.to_string())
        } else {
            return Err(HeaderError::Syntax(
                "Subscription-State must start with a state token",
            ));
        };
        let params = Params::parse_header_params(rest)?;
        for name in ["expires", "retry-after"] {
            if let Some(p) = params.get(name) {
                parse_number(p.value.as_deref().unwrap_or(""), u64::from(u32::MAX))?;
            }
        }
        if let Some(p) = params.get("reason") {
            if !p.value.as_deref().is_some_and(text::is_token) {
                return Err(HeaderError::Syntax(
                    "Subscription-State reason must be a token",
                ));
            }
        }
        Ok(SubscriptionState { state, params })
    }

    fn write(&self, out: &mut String) {
        out.push_str(self.state.as_str());
        let _ = write!(out, "{}", self.params);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_values() {
        type Row<'a> = (
            &'a str,
            SubState,
            Option<u32>,
            Option<&'a str>,
            Option<u32>,
            &'a str,
        );
        let rows: [Row; 6] = [
            (
                "active;expires=3600",
                SubState::Active,
                Some(3600),
                None,
                None,
                "active;expires=3600",
            ),
            (
                "Pending ; expires = 60",
                SubState::Pending,
                Some(60),
                None,
                None,
                "pending;expires=60",
            ),
            (
                "terminated;reason=timeout",
                SubState::Terminated,
                None,
                Some("timeout"),
                None,
                "terminated;reason=timeout",
            ),
            (
                "TERMINATED;reason=probation;retry-after=120",
                SubState::Terminated,
                None,
                Some("probation"),
                Some(120),
                "terminated;reason=probation;retry-after=120",
            ),
            (
                "terminated",
                SubState::Terminated,
                None,
                None,
                None,
                "terminated",
            ),
            (
                "waiting;x=1",
                SubState::Other("waiting".into()),
                None,
                None,
                None,
                "waiting;x=1",
            ),
        ];
        for (input, state, expires, reason, retry, wire) in rows {
            let s = SubscriptionState::parse(input).unwrap();
            assert_eq!(s.state, state, "{input:?}");
            assert_eq!(s.expires(), expires, "{input:?}");
            assert_eq!(s.reason(), reason, "{input:?}");
            assert_eq!(s.retry_after(), retry, "{input:?}");
            assert_eq!(s.to_value(), wire);
            assert_eq!(SubscriptionState::parse(&s.to_value()).unwrap(), s);
        }
    }

    #[test]
    fn bad_values() {
        let rows = [
            ("", HeaderError::Empty),
            (
                ";expires=1",
                HeaderError::Syntax("Subscription-State must start with a state token"),
            ),
            (
                "act ive",
                HeaderError::Syntax("Subscription-State must start with a state token"),
            ),
            (
                "active;expires=soon",
                HeaderError::InvalidNumber("soon".into()),
            ),
            (
                "active;expires=4294967296",
                HeaderError::InvalidNumber("4294967296".into()),
            ),
            ("active;expires", HeaderError::InvalidNumber(String::new())),
            (
                "terminated;retry-after=-5",
                HeaderError::InvalidNumber("-5".into()),
            ),
            (
                "terminated;reason",
                HeaderError::Syntax("Subscription-State reason must be a token"),
            ),
            (
                "terminated;reason=\"x\"",
                HeaderError::Syntax("Subscription-State reason must be a token"),
            ),
        ];
        for (input, err) in rows {
            assert_eq!(SubscriptionState::parse(input), Err(err), "{input:?}");
        }
    }

    #[test]
    fn constructors() {
        assert_eq!(
            SubscriptionState::active(300).to_value(),
            "active;expires=300"
        );
        assert_eq!(
            SubscriptionState::pending(0).to_value(),
            "pending;expires=0"
        );
        assert_eq!(
            SubscriptionState::terminated(Some("noresource")).to_value(),
            "terminated;reason=noresource"
        );
        assert_eq!(SubscriptionState::terminated(None).to_value(), "terminated");
        assert_eq!(SubscriptionState::active(300).expires(), Some(300));
    }
}
