//! Framing and parsing of SIP messages (RFC 3261 §7, §18.3, §25).
//!
//! Parsing builds an index, like httparse: the start line is parsed, each header line is
//! located and its name recognised, and nothing else. Typed headers are parsed later, on
//! demand. The raw bytes are kept so that an untouched message writes back byte for byte.
//!
//! Two framings:
//! - datagram (UDP, RFC 3261 §18.3): a Content-Length larger than what is left of the
//!   datagram is an error; octets after the body are ignored; without a Content-Length
//!   the body runs to the end of the datagram (RFC 2543 compatibility, RFC 4475 §3.4.1).
//! - stream (TCP): Content-Length is required and tells where the next message starts;
//!   partial input asks for more bytes.
//!
//! Leniency, each a documented choice: leading CRLFs before the start line are skipped
//! (RFC 3261 §7.5, also how keep-alives look), bare LF is accepted as a line end (RFC 5118's
//! reference messages use it), and a datagram that ends right after its last header line
//! without the empty line is taken as having no body.

use std::ops::Range;

use crate::header_name::HeaderName;
use crate::message::{Field, FieldText, Message, StartLine, Text};
use crate::method::Method;
use crate::uri::Uri;

/// Bounds on what the parser accepts, so hostile input costs little.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest message (start line, headers and body) in bytes.
    pub max_message_size: usize,
    /// Most header fields (lines, not comma-separated values) in one message.
    pub max_headers: usize,
    /// Longest header field, folded continuation lines included, in bytes.
    pub max_header_line: usize,
}

impl Default for Limits {
    /// Defaults sized for UDP: the largest datagram, and room for the longest fields seen in
    /// practice (RFC 4475's long-values message has a 594-byte line).
    fn default() -> Limits {
        Limits {
            max_message_size: 65_535,
            max_headers: 256,
            max_header_line: 8_192,
        }
    }
}

/// Result of parsing from a stream.
// A `Message` is a few hundred bytes (a parsed request URI is inline); it is produced once
// per message and moved straight out, so boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Framed {
    /// A whole message, and how many bytes of the input it used (leading CRLFs included).
    Complete(Message, usize),
    /// Not enough bytes yet; call again with more.
    Partial,
}

/// Why a message was refused by the parser.
///
/// [`ParseError::status`] gives the response code a server answers a request with (a
/// response that fails to parse is dropped); the `Display` text is a fitting reason phrase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but line breaks (a keep-alive), or no bytes at all.
    #[error("Empty message")]
    Empty,
    /// The message is larger than [`Limits::max_message_size`].
    #[error("Message Too Large")]
    TooLarge,
    /// More header fields than [`Limits::max_headers`].
    #[error("Too many header fields")]
    TooManyHeaders,
    /// A header field longer than [`Limits::max_header_line`].
    #[error("Header field too long")]
    HeaderTooLong,
    /// The start line is neither a request line nor a status line.
    #[error("Malformed start line")]
    StartLine,
    /// The method is not a token.
    #[error("Malformed method")]
    Method,
    /// The Request-URI does not parse.
    #[error("Malformed Request-URI")]
    RequestUri,
    /// A SIP version other than 2.0.
    #[error("Version Not Supported")]
    Version,
    /// The status code is not three digits from 100 to 699.
    #[error("Malformed status code")]
    StatusCode,
    /// A header line without a colon, or with a name that is not a token.
    #[error("Malformed header line")]
    HeaderLine,
    /// A continuation line with no header before it.
    #[error("Continuation line before any header")]
    Continuation,
    /// A CR in a header field that is not part of a line break.
    #[error("Invalid character in header section")]
    InvalidByte,
    /// Content-Length is not a number, is negative, or appears twice with different values.
    #[error("Invalid Content-Length")]
    ContentLength,
    /// Content-Length says more than the datagram holds.
    #[error("Content-Length larger than message")]
    Truncated,
    /// A stream message without Content-Length (RFC 3261 §18.3 requires it there).
    #[error("Content-Length required on stream transports")]
    MissingContentLength,
}

impl ParseError {
    /// The status code to answer a request that failed this way with.
    pub fn status(&self) -> u16 {
        match self {
            ParseError::TooLarge => 513,
            ParseError::Version => 505,
            _ => 400,
        }
    }
}

/// Which framing applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    Datagram,
    Stream,
}

pub(crate) fn parse_datagram(input: &[u8], limits: &Limits) -> Result<Message, ParseError> {
    match parse(input, limits, Framing::Datagram)? {
        Framed::Complete(message, _) => Ok(message),
        // A datagram is all there is: what is missing will never come.
        Framed::Partial => Err(ParseError::Truncated),
    }
}

pub(crate) fn parse_stream(input: &[u8], limits: &Limits) -> Result<Framed, ParseError> {
    parse(input, limits, Framing::Stream)
}

fn parse(input: &[u8], limits: &Limits, framing: Framing) -> Result<Framed, ParseError> {
    let skip = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(input.len());
    let data = &input[skip..];
    if data.is_empty() {
        return match framing {
            Framing::Datagram => Err(ParseError::Empty),
            Framing::Stream => Ok(Framed::Partial),
        };
    }

    // The start line.
    let Some((line_end, next)) = find_line_end(data, 0) else {
        return partial_or(framing, limits, data.len(), ParseError::StartLine);
    };
    if line_end > limits.max_header_line {
        return Err(ParseError::HeaderTooLong);
    }
    let start = parse_start_line(&data[..line_end])?;

    // Header lines, each possibly folded over continuation lines.
    let mut fields: Vec<Field> = Vec::with_capacity(16);
    let mut pos = next;
    let mut content_length: Option<u32> = None;
    let body_start;
    loop {
        if pos >= data.len() {
            // The data ended where the empty line should be.
            if framing == Framing::Stream {
                return partial_or(framing, limits, data.len(), ParseError::TooLarge);
            }
            body_start = data.len();
            break;
        }
        let Some((mut end, mut after)) = find_line_end(data, pos) else {
            return partial_or(framing, limits, data.len(), ParseError::HeaderLine);
        };
        if end == pos {
            body_start = after;
            break;
        }
        // Fold continuation lines into this field.
        while after < data.len() && matches!(data[after], b' ' | b'\t') {
            match find_line_end(data, after) {
                Some((e, a)) => {
                    end = e;
                    after = a;
                }
                None => return partial_or(framing, limits, data.len(), ParseError::HeaderLine),
            }
        }
        if after >= data.len() && framing == Framing::Stream {
            // The next line might still be a continuation of this one.
            return partial_or(framing, limits, data.len(), ParseError::HeaderLine);
        }
        if after > limits.max_message_size {
            return Err(ParseError::TooLarge);
        }
        if end - pos > limits.max_header_line {
            return Err(ParseError::HeaderTooLong);
        }
        if fields.len() == limits.max_headers {
            return Err(ParseError::TooManyHeaders);
        }
        let (name, value) = index_header_line(&data[pos..end])?;
        let name = HeaderName::from_bytes(name);
        let value = pos + value.start..pos + value.end;
        if name == HeaderName::ContentLength {
            let n = parse_content_length(&data[value.clone()])?;
            if content_length.is_some_and(|seen| seen != n) {
                return Err(ParseError::ContentLength);
            }
            content_length = Some(n);
        }
        fields.push(Field {
            name,
            text: FieldText::Raw {
                line: to_u32_range(pos..end),
                value: to_u32_range(value),
            },
        });
        pos = after;
    }

    // The body.
    let available = data.len() - body_start;
    let body_len = match (content_length, framing) {
        (Some(n), _) => n as usize,
        (None, Framing::Datagram) => available,
        (None, Framing::Stream) => return Err(ParseError::MissingContentLength),
    };
    let total = body_start.saturating_add(body_len);
    if total > limits.max_message_size {
        return Err(ParseError::TooLarge);
    }
    if body_len > available {
        return match framing {
            Framing::Datagram => Err(ParseError::Truncated),
            Framing::Stream => Ok(Framed::Partial),
        };
    }
    let raw: Box<[u8]> = data[..total].into();
    let message = Message::from_parts(raw, start, fields, to_u32_range(body_start..total));
    Ok(Framed::Complete(message, skip + total))
}

/// On a stream, running out of bytes means "wait for more" unless the message is already
/// over the size limit; on a datagram it is the given error.
fn partial_or(
    framing: Framing,
    limits: &Limits,
    have: usize,
    err: ParseError,
) -> Result<Framed, ParseError> {
    match framing {
        Framing::Stream if have > limits.max_message_size => Err(ParseError::TooLarge),
        Framing::Stream => Ok(Framed::Partial),
        Framing::Datagram => Err(err),
    }
}

/// Finds the end of the line starting at `from`: returns the index of its terminator and
/// the index just past it. A CR must be followed by LF; a bare LF is accepted.
fn find_line_end(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let rel = memchr::memchr(b'\n', data.get(from..)?)?;
    let lf = from + rel;
    if lf > from && data[lf - 1] == b'\r' {
        Some((lf - 1, lf + 1))
    } else {
        Some((lf, lf + 1))
    }
}

fn parse_start_line(line: &[u8]) -> Result<StartLine, ParseError> {
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return parse_status_line(line);
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly one SP between the parts
    // (RFC 4475 §3.1.2.9 and §3.1.2.10 are rejected here).
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::StartLine);
    };
    let method = Method::parse(method).ok_or(ParseError::Method)?;
    check_version(version)?;
    let uri_text = std::str::from_utf8(uri).map_err(|_| ParseError::RequestUri)?;
    let uri = Uri::parse(uri_text).map_err(|_| ParseError::RequestUri)?;
    Ok(StartLine::Request {
        method,
        uri,
        raw: Some(Text::Raw(to_u32_range(0..line.len()))),
    })
}

fn parse_status_line(line: &[u8]) -> Result<StartLine, ParseError> {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase. The reason phrase may be
    // empty (RFC 4475 §3.1.1.13) and may hold any UTF-8.
    let mut parts = line.splitn(3, |&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().ok_or(ParseError::StatusCode)?;
    check_version(version)?;
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::StatusCode);
    }
    let code = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if !(100..=699).contains(&code) {
        return Err(ParseError::StatusCode);
    }
    let reason_start = line.len() - parts.next().map_or(0, <[u8]>::len);
    Ok(StartLine::Response {
        code,
        reason: Text::Raw(to_u32_range(reason_start..line.len())),
        raw: Some(Text::Raw(to_u32_range(0..line.len()))),
    })
}

fn check_version(version: &[u8]) -> Result<(), ParseError> {
    // SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, "SIP" case-insensitive.
    let Some(rest) = version
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case(b"SIP/"))
        .map(|_| &version[4..])
    else {
        return Err(ParseError::StartLine);
    };
    let mut nums = rest.split(|&b| b == b'.');
    let (Some(major), Some(minor), None) = (nums.next(), nums.next(), nums.next()) else {
        return Err(ParseError::StartLine);
    };
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !digits(major) || !digits(minor) {
        return Err(ParseError::StartLine);
    }
    if major != b"2" || minor != b"0" {
        return Err(ParseError::Version);
    }
    Ok(())
}

/// Splits one header field (continuation lines included, line break excluded) into its
/// name and the range of its trimmed value within `line`.
///
/// The field is built by the caller: returning a `Field` through a `Result` here made the
/// compiler copy it twice at unaligned offsets, which showed up in profiles.
fn index_header_line(line: &[u8]) -> Result<(&[u8], Range<usize>), ParseError> {
    let colon = memchr::memchr(b':', line).ok_or(ParseError::HeaderLine)?;
    // field-name HCOLON: white space may stand between the name and the colon.
    let name = trim_end_wsp(&line[..colon]);
    if name.is_empty() || !name.iter().all(|&b| crate::text::is_token_char(b)) {
        return Err(ParseError::HeaderLine);
    }
    let mut v_start = colon + 1;
    let mut v_end = line.len();
    while v_start < v_end && matches!(line[v_start], b' ' | b'\t' | b'\r' | b'\n') {
        v_start += 1;
    }
    while v_end > v_start && matches!(line[v_end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        v_end -= 1;
    }
    // A CR is allowed only as part of a fold (CRLF); anything else is a broken line. Most
    // values hold no CR at all, so one vectorised search settles it.
    let value = &line[v_start..v_end];
    if memchr::memchr_iter(b'\r', value).any(|i| value.get(i + 1) != Some(&b'\n')) {
        return Err(ParseError::InvalidByte);
    }
    Ok((name, v_start..v_end))
}

fn parse_content_length(value: &[u8]) -> Result<u32, ParseError> {
    if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::ContentLength);
    }
    value
        .iter()
        .try_fold(0u32, |n, &d| {
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .ok_or(ParseError::ContentLength)
}

fn trim_end_wsp(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    &s[..end]
}

/// Messages are bounded by `Limits` far below 4 GiB, so offsets fit in u32.
fn to_u32_range(r: Range<usize>) -> Range<u32> {
    r.start as u32..r.end as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(bytes: &[u8]) -> Result<Message, ParseError> {
        Message::parse_datagram(bytes, &Limits::default())
    }

    fn stream(bytes: &[u8]) -> Result<Framed, ParseError> {
        Message::parse_stream(bytes, &Limits::default())
    }

    const REGISTER: &[u8] = b"REGISTER sip:x SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 3\r\n\r\nabc";

    #[test]
    fn datagram_framing() {
        // Extra trailing octets are ignored (RFC 4475 §3.1.1.8).
        let mut extra = REGISTER.to_vec();
        extra.extend_from_slice(b"INVITE garbage");
        assert_eq!(datagram(&extra).unwrap().body(), b"abc");
        // A Content-Length larger than the datagram is an error.
        assert_eq!(
            datagram(&REGISTER[..REGISTER.len() - 1]).unwrap_err(),
            ParseError::Truncated
        );
        // Without Content-Length, the body runs to the end of the datagram.
        let m = datagram(b"INVITE sip:x SIP/2.0\r\nCall-ID: 1\r\n\r\nbody\r\n").unwrap();
        assert_eq!(m.body(), b"body\r\n");
        // Keep-alives are not messages.
        assert_eq!(datagram(b"\r\n\r\n").unwrap_err(), ParseError::Empty);
    }

    #[test]
    fn stream_framing_asks_for_more_until_complete() {
        let mut two = REGISTER.to_vec();
        two.extend_from_slice(b"\r\n");
        two.extend_from_slice(REGISTER);
        for cut in 0..REGISTER.len() {
            assert!(
                matches!(stream(&REGISTER[..cut]), Ok(Framed::Partial)),
                "cut at {cut}"
            );
        }
        let Ok(Framed::Complete(m, used)) = stream(&two) else {
            panic!("first message should be complete");
        };
        assert_eq!(used, REGISTER.len());
        assert_eq!(m.body(), b"abc");
        // The CRLF keep-alive before the second message is skipped.
        let Ok(Framed::Complete(_, used2)) = stream(&two[used..]) else {
            panic!("second message should be complete");
        };
        assert_eq!(used + used2, two.len());
        assert_eq!(
            stream(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: 1\r\n\r\n").unwrap_err(),
            ParseError::MissingContentLength
        );
    }

    #[test]
    fn stream_refuses_endless_headers() {
        let limits = Limits {
            max_message_size: 100,
            ..Limits::default()
        };
        let mut input = b"OPTIONS sip:x SIP/2.0\r\n".to_vec();
        for _ in 0..20 {
            input.extend_from_slice(b"X-Pad: 0123456789\r\n");
        }
        assert_eq!(
            Message::parse_stream(&input, &limits).unwrap_err(),
            ParseError::TooLarge
        );
    }

    #[test]
    fn start_line_errors_map_to_status_codes() {
        let cases: &[(&[u8], ParseError, u16)] = &[
            (b"INVITE sip:x SIP/7.0\r\n\r\n", ParseError::Version, 505),
            (b"INVITE  sip:x SIP/2.0\r\n\r\n", ParseError::StartLine, 400),
            (
                b"INVITE sip:x SIP/2.0  \r\n\r\n",
                ParseError::StartLine,
                400,
            ),
            (
                b"INVITE <sip:x> SIP/2.0\r\n\r\n",
                ParseError::RequestUri,
                400,
            ),
            (b"IN(VITE sip:x SIP/2.0\r\n\r\n", ParseError::Method, 400),
            (
                b"SIP/2.0 4294967301 Huge\r\n\r\n",
                ParseError::StatusCode,
                400,
            ),
            (b"SIP/2.0 099 Low\r\n\r\n", ParseError::StatusCode, 400),
            (b"SIP/2.0 700 High\r\n\r\n", ParseError::StatusCode, 400),
        ];
        for (input, err, status) in cases {
            let got = datagram(input).unwrap_err();
            assert_eq!(&got, err, "{}", String::from_utf8_lossy(input));
            assert_eq!(got.status(), *status);
        }
    }

    #[test]
    fn header_section_errors() {
        let cases: &[(&[u8], ParseError)] = &[
            (
                b"OPTIONS sip:x SIP/2.0\r\nNo colon here\r\n\r\n",
                ParseError::HeaderLine,
            ),
            (
                b"OPTIONS sip:x SIP/2.0\r\nBad Name: x\r\n\r\n",
                ParseError::HeaderLine,
            ),
            (
                b"OPTIONS sip:x SIP/2.0\r\nContent-Length: -999\r\n\r\n",
                ParseError::ContentLength,
            ),
            (
                b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab",
                ParseError::ContentLength,
            ),
            (
                b"OPTIONS sip:x SIP/2.0\r\nX: a\rb\r\n\r\n",
                ParseError::InvalidByte,
            ),
        ];
        for (input, err) in cases {
            assert_eq!(&datagram(input).unwrap_err(), err);
        }
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        assert_eq!(
            Message::parse_datagram(
                b"OPTIONS sip:x SIP/2.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
                &limits
            )
            .unwrap_err(),
            ParseError::TooManyHeaders
        );
    }

    #[test]
    fn responses_with_odd_reason_phrases() {
        let m = datagram(b"SIP/2.0 100 \r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(m.status(), Some(100));
        assert_eq!(m.reason_phrase().as_deref(), Some(""));
        let m = datagram("SIP/2.0 200 = 2**3 * 5**2 но сто\r\nl: 0\r\n\r\n".as_bytes()).unwrap();
        assert_eq!(m.reason_phrase().as_deref(), Some("= 2**3 * 5**2 но сто"));
    }
}
