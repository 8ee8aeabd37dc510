//! Checks above the parser: does a well-formed message carry what a transaction and a
//! dialog need? (RFC 3261 §8.1.1, §8.2.1-§8.2.2, §17; RFC 4475 §3.2 and §3.3.)
//!
//! The parser accepts any message that is well framed and well formed line by line. These
//! checks read the headers every request and response must have (Via, From, To, Call-ID,
//! CSeq, and Max-Forwards when present), refuse a header that may appear once but appears
//! twice, compare the CSeq method with the request method, and in requests read the
//! Request-URI scheme and every Contact. The result carries the parsed
//! headers so that nobody parses them twice. Each failure knows its status code.

use crate::header_name::HeaderName;
use crate::headers::call_id::CallId;
use crate::headers::contact::Contact;
use crate::headers::cseq::CSeq;
use crate::headers::from_to::{From, To};
use crate::headers::numbers::MaxForwards;
use crate::headers::via::Via;
use crate::headers::Header;
use crate::message::{InvalidHeader, Message};
use crate::uri::Uri;

/// The headers every request and response carries, parsed.
#[derive(Debug, Clone)]
pub struct Essentials {
    /// The top Via.
    pub via: Via,
    /// From.
    pub from: From,
    /// To.
    pub to: To,
    /// Call-ID.
    pub call_id: CallId,
    /// CSeq.
    pub cseq: CSeq,
    /// Max-Forwards, when present (RFC 2543 requests have none).
    pub max_forwards: Option<u8>,
}

/// Why a message failed the checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A required header is missing.
    #[error("Missing {0} header")]
    Missing(HeaderName),
    /// A header that may appear once appears more than once.
    #[error("Multiple {0} headers")]
    Repeated(HeaderName),
    /// A header does not parse.
    #[error("Invalid {} header", .0.name)]
    Invalid(#[from] InvalidHeader),
    /// The CSeq method differs from the request method (RFC 4475 §3.1.2.17).
    #[error("CSeq method does not match the request method")]
    CSeqMismatch,
    /// The Request-URI scheme is neither sip, sips nor tel (RFC 4475 §3.3.2).
    #[error("Unsupported URI Scheme")]
    UnsupportedScheme,
    /// The Request-URI carries `?headers`, which RFC 3261 §19.1.1 forbids there
    /// (RFC 4475 §3.1.2.11).
    #[error("Headers not allowed in Request-URI")]
    UriHeaders,
}

impl CheckError {
    /// The status code to answer a request that failed this way with.
    pub fn status(&self) -> u16 {
        match self {
            CheckError::UnsupportedScheme => 416,
            _ => 400,
        }
    }
}

/// Checks a request; see the module documentation.
pub fn check_request(msg: &Message) -> Result<Essentials, CheckError> {
    let essentials = check_common(msg)?;
    if let Some(method) = msg.method() {
        if &essentials.cseq.method != method {
            return Err(CheckError::CSeqMismatch);
        }
    }
    match msg.uri() {
        Some(Uri::Other(_)) => return Err(CheckError::UnsupportedScheme),
        Some(Uri::Sip(sip)) if !sip.headers.is_empty() => return Err(CheckError::UriHeaders),
        _ => {}
    }
    // Contact decides where a dialog or a registration goes: a malformed one is refused
    // here rather than by whoever reads it later (RFC 4475 §3.1.2.1, §3.1.2.13).
    msg.header_all::<Contact>()?;
    Ok(essentials)
}

/// Checks a response; see the module documentation.
pub fn check_response(msg: &Message) -> Result<Essentials, CheckError> {
    check_common(msg)
}

fn check_common(msg: &Message) -> Result<Essentials, CheckError> {
    let via = required::<Via>(msg)?;
    let from = single::<From>(msg)?;
    let to = single::<To>(msg)?;
    let call_id = single::<CallId>(msg)?;
    let cseq = single::<CSeq>(msg)?;
    let max_forwards = match msg.count(&HeaderName::MaxForwards) {
        0 => None,
        1 => Some(required::<MaxForwards>(msg)?.0),
        _ => return Err(CheckError::Repeated(HeaderName::MaxForwards)),
    };
    Ok(Essentials {
        via,
        from,
        to,
        call_id,
        cseq,
        max_forwards,
    })
}

fn required<H: Header>(msg: &Message) -> Result<H, CheckError> {
    match msg.header::<H>() {
        Some(result) => Ok(result?),
        None => Err(CheckError::Missing(H::NAME)),
    }
}

fn single<H: Header>(msg: &Message) -> Result<H, CheckError> {
    if msg.count(&H::NAME) > 1 {
        return Err(CheckError::Repeated(H::NAME));
    }
    required::<H>(msg)
}
