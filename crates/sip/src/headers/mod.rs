//! Typed header fields, parsed on demand from the raw values the parser indexed.
//!
//! Each header type parses one header *value*: for list headers (RFC 3261 §7.3.1, the ones
//! whose grammar is `#element`), the message splits the comma-separated values first and
//! hands each one over. Values arrive unfolded (see [`crate::text::unfold`]).

use std::fmt;

use crate::header_name::HeaderName;

/// A header field that callcomp understands.
pub trait Header: Sized {
    /// The header this type parses.
    const NAME: HeaderName;
    /// Whether several comma-separated values may share one header line.
    const LIST: bool = false;

    /// Parses one value (one element of a list header).
    fn parse(value: &str) -> Result<Self, HeaderError>;

    /// Writes the value in wire form.
    fn write(&self, out: &mut String);

    /// The value in wire form, as a new string.
    fn to_value(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

/// Why a header value was refused. Each variant maps to `400 Bad Request`; the message
/// layer names the header in the reason phrase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The value is empty where the grammar needs something.
    #[error("empty value")]
    Empty,
    /// The value is not valid UTF-8.
    #[error("value is not UTF-8")]
    NotUtf8,
    /// A number that is missing, not decimal, or larger than the grammar allows.
    #[error("invalid number {0:?}")]
    InvalidNumber(String),
    /// The value does not follow the header's grammar; the text says where.
    #[error("{0}")]
    Syntax(&'static str),
    /// A URI inside the value is malformed.
    #[error("invalid URI: {0}")]
    Uri(#[from] crate::uri::UriError),
    /// A parameter list inside the value is malformed.
    #[error("invalid parameter: {0}")]
    Params(#[from] crate::params::ParamsError),
}

/// Parses a decimal number of at most `max`, as the scalar grammars of RFC 3261 want
/// (`1*DIGIT`, no sign, leading zeros allowed).
pub fn parse_number(s: &str, max: u64) -> Result<u64, HeaderError> {
    let s = crate::text::trim_wsp(s);
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::InvalidNumber(s.to_string()));
    }
    match s.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(HeaderError::InvalidNumber(s.to_string())),
    }
}

/// Wraps a header so `format!` writes its wire form.
pub struct Wire<'a, H: Header>(pub &'a H);

impl<H: Header> fmt::Display for Wire<'_, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_value())
    }
}

pub mod auth;
pub mod call_id;
pub mod call_info;
pub mod contact;
pub mod content_type;
pub mod cseq;
pub mod date;
pub mod etag;
pub mod event;
pub mod from_to;
pub mod numbers;
pub mod reason;
pub mod route;
pub mod subscription_state;
pub mod tokens;
pub mod via;
