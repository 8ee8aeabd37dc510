//! The `application/call-completion` body (RFC 6910 §10).
//!
//! A NOTIFY of the `call-completion` event package carries a small text document whose lines
//! look like SIP header fields: `cc-state: queued`, `cc-service-retention: true`,
//! `cc-URI: sip:cce@example.com`. Names are case-insensitive, a line that starts with white
//! space continues the previous one, unknown lines are ignored by the protocol (kept here in
//! [`CallCompletion::extensions`] so a B2BUA can pass them on), and each defined line may
//! appear at most once.
//!
//! Leniency, for interoperability: line ends may be CRLF, LF or a lone CR; blank lines are
//! skipped; `URI:` (the spelling of the RFC §8 example) is read as `cc-URI:`; state values
//! are matched without regard to case; `cc-service-retention: false` is read as absent.
//! Control characters other than tab are refused. The writer always emits the canonical form
//! with CRLF line ends.

use std::borrow::Cow;
use std::fmt;

use super::{snippet, utf8_within, BodyError};
use crate::text::{eq_ignore_case, is_token, is_wsp, trim_wsp};
use crate::uri::{Uri, UriError};

/// The media type of this body, for `Content-Type` and `Accept`.
pub const CONTENT_TYPE: &str = "application/call-completion";

/// Largest body [`CallCompletion::parse`] accepts, in bytes. Real bodies are about 100 bytes.
pub const MAX_LEN: usize = 16 * 1024;

const STATE: &str = "cc-state";
const RETENTION: &str = "cc-service-retention";
const URI: &str = "cc-URI";
/// The short spelling used by the RFC 6910 §8 example and mentioned in §7.5.
const URI_SYNONYM: &str = "URI";

/// A call-completion document: the state of one queue entry as the callee's monitor sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallCompletion {
    /// `cc-state` (RFC 6910 §10.1); required in every NOTIFY with a non-zero expiration.
    pub state: Option<CcState>,
    /// `cc-service-retention` (§10.2): the monitor keeps the entry queued when a CC call
    /// finds the callee busy again.
    pub service_retention: bool,
    /// `cc-URI` (§10.3): the request-URI for the CC recall INVITE and for suspend/resume
    /// PUBLISH, kept verbatim so that parameters the reader does not know survive.
    pub uri: Option<String>,
    /// Lines with other names, in order, as `(name, value)` with the value trimmed.
    pub extensions: Vec<(String, String)>,
}

/// The `cc-state` value (RFC 6910 §10.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CcState {
    /// `queued`: the entry is waiting and not selected for recall.
    Queued,
    /// `ready`: the entry is selected; the agent should place the CC call now.
    Ready,
    /// Any other token, kept as sent.
    Other(String),
}

impl CallCompletion {
    /// A document with just a `cc-state` line.
    pub fn new(state: CcState) -> CallCompletion {
        CallCompletion {
            state: Some(state),
            ..CallCompletion::default()
        }
    }

    /// Parses a body. Refuses bodies over [`MAX_LEN`], non-UTF-8 bytes, lines without a
    /// colon, names that are not tokens, repeated defined lines and malformed values.
    pub fn parse(body: &[u8]) -> Result<CallCompletion, BodyError> {
        let text = utf8_within(body, MAX_LEN)?;
        let mut doc = CallCompletion::default();
        let mut seen_retention = false;
        for (line, content) in logical_lines(text)? {
            let Some(colon) = content.find(':') else {
                return Err(BodyError::MissingColon { line });
            };
            let name = trim_wsp(&content[..colon]);
            if !is_token(name) {
                return Err(BodyError::InvalidName { line });
            }
            let value = trim_wsp(&content[colon + 1..]);
            if eq_ignore_case(name, STATE) {
                if doc.state.is_some() {
                    return Err(BodyError::Duplicate { name: STATE });
                }
                doc.state = Some(CcState::parse(value)?);
            } else if eq_ignore_case(name, RETENTION) {
                if seen_retention {
                    return Err(BodyError::Duplicate { name: RETENTION });
                }
                seen_retention = true;
                doc.service_retention = parse_retention(value)?;
            } else if eq_ignore_case(name, URI) || eq_ignore_case(name, URI_SYNONYM) {
                if doc.uri.is_some() {
                    return Err(BodyError::Duplicate { name: URI });
                }
                if value.is_empty() {
                    return Err(BodyError::EmptyValue { name: URI });
                }
                doc.uri = Some(value.to_string());
            } else {
                doc.extensions.push((name.to_string(), value.to_string()));
            }
        }
        Ok(doc)
    }

    /// The `cc-URI` parsed as a URI, if present. Accepts the value with or without angle
    /// brackets; anything after a closing `>` (generic parameters) is not part of the URI.
    pub fn parsed_uri(&self) -> Option<Result<Uri, UriError>> {
        let raw = self.uri.as_deref()?;
        let inner = match raw.strip_prefix('<') {
            Some(rest) => rest.split('>').next().unwrap_or(rest),
            None => raw,
        };
        Some(Uri::parse(trim_wsp(inner)))
    }

    /// Writes the canonical form: `cc-state`, `cc-service-retention`, `cc-URI`, then the
    /// extensions, each line ended by CRLF.
    ///
    /// The output always parses back, and writing what was read gives the same bytes. To keep
    /// that promise, control characters in values (line breaks included) are written as
    /// spaces, values are trimmed, an `Other` state spelling `queued` or `ready` is written as
    /// that state, and lines that could not be read back are left out: an empty URI, an
    /// `Other` state that is not a token, and extensions whose name is not a token or repeats
    /// a defined name.
    pub fn write(&self, out: &mut String) {
        if let Some(state) = &self.state {
            // Through the parser, so that `Other("READY")` is written as `ready`.
            if let Ok(state) = CcState::parse(state.as_str()) {
                push_line(out, STATE, state.as_str());
            }
        }
        if self.service_retention {
            push_line(out, RETENTION, "true");
        }
        if let Some(uri) = &self.uri {
            let uri = sanitize(uri);
            let uri = trim_wsp(&uri);
            if !uri.is_empty() {
                push_line(out, URI, uri);
            }
        }
        for (name, value) in &self.extensions {
            if is_token(name) && !is_defined_name(name) {
                push_line(out, name, trim_wsp(&sanitize(value)));
            }
        }
    }

    /// The canonical form as bytes, ready for a message body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        self.write(&mut out);
        out.into_bytes()
    }
}

impl fmt::Display for CallCompletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

impl CcState {
    /// Reads a `cc-state` value: `queued` and `ready` in any case, or another token.
    pub fn parse(value: &str) -> Result<CcState, BodyError> {
        let value = trim_wsp(value);
        if value.is_empty() {
            Err(BodyError::EmptyValue { name: STATE })
        } else if eq_ignore_case(value, "queued") {
            Ok(CcState::Queued)
        } else if eq_ignore_case(value, "ready") {
            Ok(CcState::Ready)
        } else if is_token(value) {
            Ok(CcState::Other(value.to_string()))
        } else {
            Err(BodyError::InvalidState(snippet(value)))
        }
    }

    /// The value as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            CcState::Queued => "queued",
            CcState::Ready => "ready",
            CcState::Other(s) => s,
        }
    }
}

impl fmt::Display for CcState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Splits the text into physical lines (CRLF, LF or lone CR), refuses control characters,
/// joins continuation lines onto the line they continue with one space, and drops blank
/// lines. Each logical line comes
/// with the number of its first physical line.
fn logical_lines(text: &str) -> Result<Vec<(usize, Cow<'_, str>)>, BodyError> {
    let mut out: Vec<(usize, Cow<'_, str>)> = Vec::new();
    // Whether the last logical line may still be continued: a blank line ends it.
    let mut open = false;
    for (index, physical) in physical_lines(text).enumerate() {
        let line = index + 1;
        if physical.chars().any(|c| c.is_control() && c != '\t') {
            return Err(BodyError::ControlCharacter { line });
        }
        let trimmed = trim_wsp(physical);
        if trimmed.is_empty() {
            open = false;
            continue;
        }
        if physical.as_bytes().first().copied().is_some_and(is_wsp) {
            match out.last_mut() {
                Some((_, joined)) if open => {
                    let joined = joined.to_mut();
                    joined.truncate(trim_wsp_end(joined).len());
                    joined.push(' ');
                    joined.push_str(trimmed);
                }
                _ => return Err(BodyError::OrphanContinuation { line }),
            }
        } else {
            out.push((line, Cow::Borrowed(physical)));
            open = true;
        }
    }
    Ok(out)
}

/// Physical lines; a final line end does not start another (empty) line.
fn physical_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\r', '\n']) {
            Some(end) => {
                let line = &rest[..end];
                let skip = if rest[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = &rest[end + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

fn trim_wsp_end(s: &str) -> &str {
    s.trim_end_matches([' ', '\t'])
}

/// `true` per the §10.2 grammar; `false` is tolerated and means the option is absent.
fn parse_retention(value: &str) -> Result<bool, BodyError> {
    if eq_ignore_case(value, "true") {
        Ok(true)
    } else if eq_ignore_case(value, "false") {
        Ok(false)
    } else {
        Err(BodyError::InvalidRetention(snippet(value)))
    }
}

fn is_defined_name(name: &str) -> bool {
    [STATE, RETENTION, URI, URI_SYNONYM]
        .iter()
        .any(|known| eq_ignore_case(name, known))
}

/// Control characters other than tab cannot appear inside a line; they become spaces.
fn sanitize(value: &str) -> Cow<'_, str> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        Cow::Owned(
            value
                .chars()
                .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(value)
    }
}

fn push_line(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    /// Bodies that must parse, with what they mean.
    #[test]
    fn parse_accepts() {
        let cases: &[(&str, &[u8], CallCompletion)] = &[
            (
                "RFC 6910 §9.8 queued with retention and URI (CRLF)",
                b"cc-state: queued\r\ncc-service-retention: true\r\ncc-URI: sip:cc@example.com\r\n",
                CallCompletion {
                    state: Some(CcState::Queued),
                    service_retention: true,
                    uri: Some("sip:cc@example.com".into()),
                    extensions: vec![],
                },
            ),
            (
                "ready, LF only, no final line end",
                b"cc-state: ready\ncc-URI: sip:cce-7f3a@z.b.com",
                CallCompletion {
                    state: Some(CcState::Ready),
                    uri: Some("sip:cce-7f3a@z.b.com".into()),
                    ..CallCompletion::default()
                },
            ),
            (
                "§10 names are case-insensitive; values matched without case",
                b"CC-STATE: Queued\r\nCc-Service-Retention: TRUE\r\ncc-uri: sip:a@b\r\n",
                CallCompletion {
                    state: Some(CcState::Queued),
                    service_retention: true,
                    uri: Some("sip:a@b".into()),
                    extensions: vec![],
                },
            ),
            (
                "§8 example spelling URI: is a synonym of cc-URI:",
                b"cc-state: ready\r\nURI: sip:recall@z.b.com\r\n",
                CallCompletion {
                    state: Some(CcState::Ready),
                    uri: Some("sip:recall@z.b.com".into()),
                    ..CallCompletion::default()
                },
            ),
            (
                "§10 unknown lines are kept aside, in order",
                b"x-queue-position: 3\r\ncc-state: queued\r\nX-Note:  hello world  \r\n",
                CallCompletion {
                    state: Some(CcState::Queued),
                    extensions: ext(&[("x-queue-position", "3"), ("X-Note", "hello world")]),
                    ..CallCompletion::default()
                },
            ),
            (
                "§10 continuation lines fold into one value",
                b"cc-URI: <sip:cc@example.com>\r\n  ;foo=bar\r\ncc-state:\r\n\tready\r\n",
                CallCompletion {
                    state: Some(CcState::Ready),
                    uri: Some("<sip:cc@example.com> ;foo=bar".into()),
                    ..CallCompletion::default()
                },
            ),
            (
                "white space around the colon, blank lines, lone CR",
                b"\r\ncc-state :queued\r\r\n\ncc-service-retention:false\r",
                CallCompletion {
                    state: Some(CcState::Queued),
                    ..CallCompletion::default()
                },
            ),
            (
                "an extension state token",
                b"cc-state: parked\r\n",
                CallCompletion::new(CcState::Other("parked".into())),
            ),
            (
                "a terminating NOTIFY may carry no cc-state (§9.8)",
                b"",
                CallCompletion::default(),
            ),
            (
                "a colon inside the value stays in the value",
                b"cc-URI: sips:cc@example.com:5061;transport=tls\r\n",
                CallCompletion {
                    uri: Some("sips:cc@example.com:5061;transport=tls".into()),
                    ..CallCompletion::default()
                },
            ),
            (
                "an extension may have an empty value",
                b"x-empty:\r\n",
                CallCompletion {
                    extensions: ext(&[("x-empty", "")]),
                    ..CallCompletion::default()
                },
            ),
        ];
        for (what, body, want) in cases {
            assert_eq!(CallCompletion::parse(body).as_ref(), Ok(want), "{what}");
        }
    }

    /// Bodies that must be refused, with the reason.
    #[test]
    fn parse_refuses() {
        let cases: &[(&str, &[u8], BodyError)] = &[
            (
                "a control character in a value",
                b"cc-state: queued\r\ncc-URI: sip:a\x00@b\r\n",
                BodyError::ControlCharacter { line: 2 },
            ),
            (
                "a line without a colon",
                b"cc-state: queued\r\nready\r\n",
                BodyError::MissingColon { line: 2 },
            ),
            (
                "a name that is not a token",
                b"cc state: queued\r\n",
                BodyError::InvalidName { line: 1 },
            ),
            (
                "an empty name",
                b": queued\r\n",
                BodyError::InvalidName { line: 1 },
            ),
            (
                "a continuation first",
                b" cc-state: queued\r\n",
                BodyError::OrphanContinuation { line: 1 },
            ),
            (
                "a continuation after a blank line",
                b"cc-state: queued\r\n\r\n more\r\n",
                BodyError::OrphanContinuation { line: 3 },
            ),
            (
                "§10 each defined line at most once",
                b"cc-state: queued\r\ncc-state: ready\r\n",
                BodyError::Duplicate { name: "cc-state" },
            ),
            (
                "URI and cc-URI together",
                b"URI: sip:a@b\r\ncc-URI: sip:c@d\r\n",
                BodyError::Duplicate { name: "cc-URI" },
            ),
            (
                "retention twice",
                b"cc-service-retention: true\r\ncc-service-retention: true\r\n",
                BodyError::Duplicate {
                    name: "cc-service-retention",
                },
            ),
            (
                "an empty state",
                b"cc-state:\r\n",
                BodyError::EmptyValue { name: "cc-state" },
            ),
            (
                "an empty URI",
                b"cc-URI:  \r\n",
                BodyError::EmptyValue { name: "cc-URI" },
            ),
            (
                "a state that is not a token",
                b"cc-state: queued now\r\n",
                BodyError::InvalidState("queued now".into()),
            ),
            (
                "a retention value other than true",
                b"cc-service-retention: yes\r\n",
                BodyError::InvalidRetention("yes".into()),
            ),
            (
                "not UTF-8",
                b"cc-state: qu\xffeued\r\n",
                BodyError::NotUtf8 { offset: 12 },
            ),
        ];
        for (what, body, want) in cases {
            assert_eq!(CallCompletion::parse(body).as_ref(), Err(want), "{what}");
        }
    }

    #[test]
    fn parse_refuses_oversized_bodies() {
        let mut body = b"cc-state: queued\r\n".to_vec();
        body.resize(MAX_LEN + 1, b' ');
        assert_eq!(
            CallCompletion::parse(&body),
            Err(BodyError::TooLarge {
                len: MAX_LEN + 1,
                max: MAX_LEN
            })
        );
    }

    #[test]
    fn write_is_canonical() {
        let doc = CallCompletion {
            state: Some(CcState::Queued),
            service_retention: true,
            uri: Some("sip:cce-7f3a@z.b.com".into()),
            extensions: ext(&[("x-pos", "2")]),
        };
        assert_eq!(
            doc.to_string(),
            "cc-state: queued\r\ncc-service-retention: true\r\ncc-URI: sip:cce-7f3a@z.b.com\r\nx-pos: 2\r\n"
        );
        assert_eq!(
            CallCompletion::new(CcState::Ready).to_bytes(),
            b"cc-state: ready\r\n"
        );
        assert_eq!(CallCompletion::default().to_bytes(), b"");
    }

    #[test]
    fn write_normalizes_synonyms_and_case() {
        let doc = CallCompletion::parse(b"URI: sip:a@b\nCC-STATE: READY\n").unwrap();
        assert_eq!(doc.to_string(), "cc-state: ready\r\ncc-URI: sip:a@b\r\n");
    }

    #[test]
    fn write_never_produces_an_unreadable_body() {
        let doc = CallCompletion {
            state: Some(CcState::Other("not a token".into())),
            service_retention: false,
            uri: Some("sip:a@b\r\ncc-state: ready".into()),
            extensions: ext(&[
                ("bad name", "x"),
                ("CC-State", "ready"),
                ("uri", "sip:x@y"),
                ("x-ok", "line1\nline2"),
            ]),
        };
        let text = doc.to_string();
        assert_eq!(
            text,
            "cc-URI: sip:a@b  cc-state: ready\r\nx-ok: line1 line2\r\n"
        );
        let back = CallCompletion::parse(text.as_bytes()).unwrap();
        assert_eq!(back.state, None);
        assert_eq!(back.uri.as_deref(), Some("sip:a@b  cc-state: ready"));
    }

    #[test]
    fn parsed_uri_strips_angle_brackets() {
        let doc = CallCompletion {
            uri: Some("<sip:cc@example.com>;foo=bar".into()),
            ..CallCompletion::default()
        };
        let uri = doc.parsed_uri().unwrap().unwrap();
        assert_eq!(uri.to_string(), "sip:cc@example.com");
        let plain = CallCompletion {
            uri: Some("sip:cc@example.com;m=BS".into()),
            ..CallCompletion::default()
        };
        assert_eq!(
            plain.parsed_uri().unwrap().unwrap().to_string(),
            "sip:cc@example.com;m=BS"
        );
        assert!(CallCompletion::default().parsed_uri().is_none());
    }

    #[test]
    fn cc_state_words() {
        assert_eq!(CcState::Queued.as_str(), "queued");
        assert_eq!(CcState::Ready.to_string(), "ready");
        assert_eq!(CcState::Other("x".into()).as_str(), "x");
        assert_eq!(CcState::parse(" READY "), Ok(CcState::Ready));
    }
}
