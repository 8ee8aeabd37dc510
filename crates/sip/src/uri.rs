//! SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966; IPv6 references per RFC 5118).
//! Temporary stand-in until the URI parser lands.

use std::fmt;

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Placeholder until the URI parser lands.
    #[error("invalid URI")]
    Invalid,
}

/// A URI (stand-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri(String);

impl Uri {
    /// Parses a URI (stand-in: needs a scheme and no white space).
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        if s.contains(':') && !s.contains(' ') && !s.contains('<') {
            Ok(Uri(s.to_string()))
        } else {
            Err(UriError::Invalid)
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
