//! The SIP message model (RFC 3261 §7): requests and responses, their header fields and body.
//!
//! A parsed message keeps the bytes it was parsed from and an index into them. Reading never
//! copies: raw values are slices of those bytes, typed headers are parsed when asked for.
//! Editing replaces only what it touches: a header that was added or changed is held on its
//! own, every other header line, the start line and the body keep their original bytes. An
//! untouched message writes back exactly the bytes it was parsed from (without any trailing
//! octets of its datagram).

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use crate::header_name::HeaderName;
use crate::headers::{Header, HeaderError};
use crate::method::Method;
use crate::parse::{self, Framed, Limits, ParseError};
use crate::text;
use crate::uri::Uri;

/// A SIP request or response.
#[derive(Clone)]
pub struct Message {
    raw: Box<[u8]>,
    start: StartLine,
    fields: Vec<Field>,
    body: Text,
    /// Until the first edit, serializing returns `raw` as it is.
    pristine: bool,
}

/// Why a typed header could not be read from a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name} header: {source}")]
pub struct InvalidHeader {
    /// The header that failed.
    pub name: HeaderName,
    /// What is wrong with it.
    #[source]
    pub source: HeaderError,
}

impl Message {
    /// Parses one UDP datagram (RFC 3261 §18.3): octets after the body are ignored.
    pub fn parse_datagram(input: &[u8], limits: &Limits) -> Result<Message, ParseError> {
        parse::parse_datagram(input, limits)
    }

    /// Parses the next message from a stream (TCP): [`Framed::Partial`] asks for more bytes;
    /// [`Framed::Complete`] says how many bytes the message used.
    pub fn parse_stream(input: &[u8], limits: &Limits) -> Result<Framed, ParseError> {
        parse::parse_stream(input, limits)
    }

    /// A new request with no headers and no body.
    pub fn new_request(method: Method, uri: Uri) -> Message {
        Message::new(StartLine::Request {
            method,
            uri,
            raw: None,
        })
    }

    /// A new response with no headers and no body.
    pub fn new_response(code: u16, reason: &str) -> Message {
        Message::new(StartLine::Response {
            code,
            reason: Text::Owned(reason.as_bytes().into()),
            raw: None,
        })
    }

    fn new(start: StartLine) -> Message {
        Message {
            raw: Box::default(),
            start,
            fields: Vec::new(),
            body: Text::Owned(Box::default()),
            pristine: false,
        }
    }

    pub(crate) fn from_parts(
        raw: Box<[u8]>,
        start: StartLine,
        fields: Vec<Field>,
        body: Range<u32>,
    ) -> Message {
        Message {
            raw,
            start,
            fields,
            body: Text::Raw(body),
            pristine: true,
        }
    }

    // ----- start line -------------------------------------------------------------------

    /// True for a request, false for a response.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI of a request.
    pub fn uri(&self) -> Option<&Uri> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response (not UTF-8 bytes are replaced).
    pub fn reason_phrase(&self) -> Option<Cow<'_, str>> {
        match &self.start {
            StartLine::Response { reason, .. } => {
                Some(String::from_utf8_lossy(reason.bytes(&self.raw)))
            }
            StartLine::Request { .. } => None,
        }
    }

    /// Replaces the Request-URI of a request; does nothing to a response.
    pub fn set_uri(&mut self, new_uri: Uri) {
        if let StartLine::Request { uri, raw, .. } = &mut self.start {
            *uri = new_uri;
            *raw = None;
            self.pristine = false;
        }
    }

    /// Replaces the status code and reason phrase of a response; does nothing to a request.
    pub fn set_status(&mut self, new_code: u16, new_reason: &str) {
        if let StartLine::Response { code, reason, raw } = &mut self.start {
            *code = new_code;
            *reason = Text::Owned(new_reason.as_bytes().into());
            *raw = None;
            self.pristine = false;
        }
    }

    // ----- reading headers --------------------------------------------------------------

    /// Every header field in order: its name and its raw value (trimmed; folds kept).
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, &[u8])> {
        self.fields
            .iter()
            .map(|f| (&f.name, f.value_bytes(&self.raw)))
    }

    /// Number of header fields (lines, not comma-separated values).
    pub fn header_count(&self) -> usize {
        self.fields.len()
    }

    /// True when at least one field has that name.
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.fields.iter().any(|f| &f.name == name)
    }

    /// Number of fields with that name.
    pub fn count(&self, name: &HeaderName) -> usize {
        self.fields.iter().filter(|f| &f.name == name).count()
    }

    /// The raw value of the first field with that name.
    pub fn get_raw(&self, name: &HeaderName) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| &f.name == name)
            .map(|f| f.value_bytes(&self.raw))
    }

    /// The value of the first field with that name, unfolded and as text.
    pub fn get_str(&self, name: &HeaderName) -> Option<Cow<'_, str>> {
        self.get_raw(name).map(|v| match text::unfold(v) {
            Cow::Borrowed(b) => String::from_utf8_lossy(b),
            Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
        })
    }

    /// The raw values of every field with that name, in order.
    pub fn get_all_raw<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a [u8]> {
        self.fields
            .iter()
            .filter(move |f| &f.name == name)
            .map(|f| f.value_bytes(&self.raw))
    }

    /// The first value of a typed header (for a list header, the first element of its first
    /// field); `None` when the message has no such header.
    pub fn header<H: Header>(&self) -> Option<Result<H, InvalidHeader>> {
        let raw = self.get_raw(&H::NAME)?;
        Some(with_value::<H, _>(raw, |value| {
            let first = if H::LIST {
                text::split_top_level(value, b',').next().unwrap_or("")
            } else {
                value
            };
            H::parse(first)
        }))
    }

    /// Every value of a typed header, across all its fields, in order.
    ///
    /// A field of a list header whose value is empty or only white space (`Supported:`)
    /// contributes no elements: RFC 3261 §20 allows such empty lists.
    pub fn header_all<H: Header>(&self) -> Result<Vec<H>, InvalidHeader> {
        let mut out = Vec::new();
        for raw in self.get_all_raw(&H::NAME) {
            with_value::<H, _>(raw, |value| {
                if H::LIST && text::trim_wsp(value).is_empty() {
                    // An empty list: nothing to add.
                } else if H::LIST {
                    for item in text::split_top_level(value, b',') {
                        out.push(H::parse(item)?);
                    }
                } else {
                    out.push(H::parse(value)?);
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

    // ----- editing headers --------------------------------------------------------------

    /// Appends a field with a raw value.
    pub fn push_raw(&mut self, name: HeaderName, value: impl Into<Vec<u8>>) {
        self.pristine = false;
        self.fields.push(Field::owned(name, value.into()));
    }

    /// Appends a typed header as a field of its own.
    pub fn push<H: Header>(&mut self, header: &H) {
        self.push_raw(H::NAME, header.to_value());
    }

    /// Inserts a typed header above any field of the same name (a new top Via, say), or
    /// at the top of the header section when there is none.
    pub fn prepend<H: Header>(&mut self, header: &H) {
        self.pristine = false;
        let at = self
            .fields
            .iter()
            .position(|f| f.name == H::NAME)
            .unwrap_or(0);
        self.fields
            .insert(at, Field::owned(H::NAME, header.to_value().into_bytes()));
    }

    /// Sets a header to one raw value: the first field of that name is replaced in place,
    /// any others are removed; appended when absent.
    pub fn set_raw(&mut self, name: HeaderName, value: impl Into<Vec<u8>>) {
        self.pristine = false;
        let value = value.into();
        match self.fields.iter().position(|f| f.name == name) {
            Some(first) => {
                self.fields[first] = Field::owned(name.clone(), value);
                let mut i = 0;
                self.fields.retain(|f| {
                    let keep = i <= first || f.name != name;
                    i += 1;
                    keep
                });
            }
            None => self.fields.push(Field::owned(name, value)),
        }
    }

    /// Sets a typed header to one value, as [`Message::set_raw`].
    pub fn set<H: Header>(&mut self, header: &H) {
        self.set_raw(H::NAME, header.to_value());
    }

    /// Removes every field with that name; returns how many there were.
    pub fn remove(&mut self, name: &HeaderName) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| &f.name != name);
        let removed = before - self.fields.len();
        if removed > 0 {
            self.pristine = false;
        }
        removed
    }

    /// Removes the first value of a list header (the top Via, the first Route): when the
    /// first field holds several comma-separated values, only the first goes.
    pub fn remove_first_value(&mut self, name: &HeaderName) -> bool {
        let Some(i) = self.fields.iter().position(|f| &f.name == name) else {
            return false;
        };
        self.pristine = false;
        let value = text::unfold(self.fields[i].value_bytes(&self.raw)).into_owned();
        let value = String::from_utf8_lossy(&value).into_owned();
        let rest: Vec<&str> = text::split_top_level(&value, b',').skip(1).collect();
        if rest.is_empty() {
            self.fields.remove(i);
        } else {
            self.fields[i] = Field::owned(name.clone(), rest.join(", ").into_bytes());
        }
        true
    }

    // ----- body -------------------------------------------------------------------------

    /// The body (empty when there is none).
    pub fn body(&self) -> &[u8] {
        self.body.bytes(&self.raw)
    }

    /// Replaces the body and sets Content-Length to match. Set Content-Type separately.
    pub fn set_body(&mut self, body: impl Into<Vec<u8>>) {
        let body: Vec<u8> = body.into();
        self.set_raw(HeaderName::ContentLength, body.len().to_string());
        self.body = Text::Owned(body.into_boxed_slice());
    }

    // ----- writing ----------------------------------------------------------------------

    /// The message in wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len().max(256));
        self.write_to(&mut out);
        out
    }

    /// Appends the message in wire form to `out`.
    ///
    /// An untouched parsed message writes its original bytes. Otherwise each part that was
    /// not edited keeps its original bytes, and a Content-Length is added if missing (a
    /// message framed by the end of a datagram must not leave that way).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if self.pristine {
            out.extend_from_slice(&self.raw);
            return;
        }
        self.write_start_line(out);
        out.extend_from_slice(b"\r\n");
        let mut has_length = false;
        for field in &self.fields {
            has_length |= field.name == HeaderName::ContentLength;
            field.write(&self.raw, out);
            out.extend_from_slice(b"\r\n");
        }
        let body = self.body();
        if !has_length {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(body.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
    }

    fn write_start_line(&self, out: &mut Vec<u8>) {
        match &self.start {
            StartLine::Request { raw: Some(t), .. } | StartLine::Response { raw: Some(t), .. } => {
                out.extend_from_slice(t.bytes(&self.raw));
            }
            StartLine::Request { method, uri, .. } => {
                out.extend_from_slice(method.as_str().as_bytes());
                out.push(b' ');
                out.extend_from_slice(uri.to_string().as_bytes());
                out.extend_from_slice(b" SIP/2.0");
            }
            StartLine::Response { code, reason, .. } => {
                out.extend_from_slice(b"SIP/2.0 ");
                out.extend_from_slice(code.to_string().as_bytes());
                out.push(b' ');
                out.extend_from_slice(reason.bytes(&self.raw));
            }
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("wire", &String::from_utf8_lossy(&self.to_bytes()))
            .finish()
    }
}

impl fmt::Display for Message {
    /// The wire form, with bytes that are not UTF-8 replaced: for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl PartialEq for Message {
    /// Two messages are equal when they write the same bytes.
    fn eq(&self, other: &Message) -> bool {
        self.to_bytes() == other.to_bytes()
    }
}

impl Eq for Message {}

/// Unfolds a raw value, checks it is UTF-8, and hands it to `f`, naming `H` in any error.
fn with_value<H: Header, T>(
    raw: &[u8],
    f: impl FnOnce(&str) -> Result<T, HeaderError>,
) -> Result<T, InvalidHeader> {
    let unfolded = text::unfold(raw);
    let result = match std::str::from_utf8(&unfolded) {
        Ok(value) => f(value),
        Err(_) => Err(HeaderError::NotUtf8),
    };
    result.map_err(|source| InvalidHeader {
        name: H::NAME,
        source,
    })
}

/// Bytes that are either a range of the message's original bytes or held on their own.
#[derive(Debug, Clone)]
pub(crate) enum Text {
    Raw(Range<u32>),
    Owned(Box<[u8]>),
}

impl Text {
    fn bytes<'a>(&'a self, raw: &'a [u8]) -> &'a [u8] {
        match self {
            Text::Raw(r) => raw
                .get(r.start as usize..r.end as usize)
                .unwrap_or_default(),
            Text::Owned(b) => b,
        }
    }
}

/// The first line of a message.
#[derive(Debug, Clone)]
pub(crate) enum StartLine {
    Request {
        method: Method,
        uri: Uri,
        /// The line as received, kept until an edit.
        raw: Option<Text>,
    },
    Response {
        code: u16,
        reason: Text,
        /// The line as received, kept until an edit.
        raw: Option<Text>,
    },
}

/// One header field: its name and where its text is.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) name: HeaderName,
    pub(crate) text: FieldText,
}

#[derive(Debug, Clone)]
pub(crate) enum FieldText {
    /// A field as parsed: the whole line(s) and the value within them.
    Raw { line: Range<u32>, value: Range<u32> },
    /// A field added or changed since parsing: its value.
    Owned(Box<[u8]>),
}

impl Field {
    fn owned(name: HeaderName, value: Vec<u8>) -> Field {
        Field {
            name,
            text: FieldText::Owned(value.into_boxed_slice()),
        }
    }

    fn value_bytes<'a>(&'a self, raw: &'a [u8]) -> &'a [u8] {
        match &self.text {
            FieldText::Raw { value, .. } => raw
                .get(value.start as usize..value.end as usize)
                .unwrap_or_default(),
            FieldText::Owned(v) => v,
        }
    }

    fn write(&self, raw: &[u8], out: &mut Vec<u8>) {
        match &self.text {
            FieldText::Raw { line, .. } => {
                out.extend_from_slice(
                    raw.get(line.start as usize..line.end as usize)
                        .unwrap_or_default(),
                );
            }
            FieldText::Owned(value) => {
                out.extend_from_slice(self.name.as_str().as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
X-Custom:  kept   as is \r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    fn parse(bytes: &[u8]) -> Message {
        Message::parse_datagram(bytes, &Limits::default()).unwrap()
    }

    #[test]
    fn untouched_message_writes_back_its_bytes() {
        let m = parse(INVITE);
        assert_eq!(m.to_bytes(), INVITE);
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(m.body(), b"v=0\n");
        assert_eq!(m.header_count(), 9);
        assert_eq!(
            m.get_raw(&HeaderName::from("x-custom")),
            Some(&b"kept   as is"[..])
        );
    }

    #[test]
    fn edits_keep_the_other_bytes() {
        let mut m = parse(INVITE);
        m.set_raw(HeaderName::MaxForwards, "69");
        m.push_raw(HeaderName::from("X-New"), "1");
        let out = String::from_utf8(m.to_bytes()).unwrap();
        let expected = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("Max-Forwards: 70", "Max-Forwards: 69")
            .replace("Content-Length: 4\r\n", "Content-Length: 4\r\nX-New: 1\r\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn set_body_updates_content_length_in_place() {
        let mut m = parse(INVITE);
        m.set_body(b"v=0\r\no=x\r\n".to_vec());
        let out = String::from_utf8(m.to_bytes()).unwrap();
        assert!(out
            .contains("Content-Type: application/sdp\r\nContent-Length: 10\r\n\r\nv=0\r\no=x\r\n"));
        assert_eq!(out.matches("Content-Length").count(), 1);
    }

    #[test]
    fn remove_first_value_splits_a_shared_line() {
        let mut m = parse(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP c\r\nContent-Length: 0\r\n\r\n",
        );
        assert!(m.remove_first_value(&HeaderName::Via));
        let vias: Vec<_> = m.get_all_raw(&HeaderName::Via).collect();
        assert_eq!(
            vias,
            vec![&b"SIP/2.0/UDP b;branch=z9hG4bK2"[..], b"SIP/2.0/UDP c"]
        );
        assert!(m.remove_first_value(&HeaderName::Via));
        assert!(m.remove_first_value(&HeaderName::Via));
        assert!(!m.remove_first_value(&HeaderName::Via));
    }

    #[test]
    fn set_raw_replaces_first_and_drops_the_rest() {
        // `x` is the compact form of Session-Expires: names compare as headers, not text.
        let mut m = parse(b"OPTIONS sip:a@b SIP/2.0\r\nx: 1\r\nY: 2\r\nSession-Expires: 3\r\nContent-Length: 0\r\n\r\n");
        m.set_raw(HeaderName::SessionExpires, "9");
        let out = String::from_utf8(m.to_bytes()).unwrap();
        assert_eq!(
            out,
            "OPTIONS sip:a@b SIP/2.0\r\nSession-Expires: 9\r\nY: 2\r\nContent-Length: 0\r\n\r\n"
        );
        assert_eq!(m.remove(&HeaderName::from("y")), 1);
        assert_eq!(m.remove(&HeaderName::from("y")), 0);
    }

    #[test]
    fn new_messages_get_a_content_length() {
        let mut m = Message::new_response(486, "Busy Here");
        m.push_raw(HeaderName::CallId, "abc");
        assert_eq!(
            m.to_bytes(),
            b"SIP/2.0 486 Busy Here\r\nCall-ID: abc\r\nContent-Length: 0\r\n\r\n"
        );
        let reparsed = parse(&m.to_bytes());
        assert_eq!(reparsed.status(), Some(486));
        assert_eq!(reparsed.reason_phrase().as_deref(), Some("Busy Here"));
    }

    #[test]
    fn empty_list_headers_have_no_elements() {
        use crate::headers::call_id::CallId;
        use crate::headers::tokens::{Allow, Supported};
        // RFC 3261 §20.37 and §20.5: `Supported:` and `Allow:` may be empty. A folded
        // value that is only white space is empty too.
        let m = parse(b"OPTIONS sip:a@b SIP/2.0\r\nSupported:\r\nAllow: \r\n \r\nAllow: INVITE\r\nSupported: timer\r\nCall-ID: \r\nContent-Length: 0\r\n\r\n");
        let supported = m.header_all::<Supported>().unwrap();
        assert_eq!(supported, [Supported("timer".into())]);
        assert_eq!(m.header_all::<Allow>().unwrap(), [Allow(Method::Invite)]);
        // Only list headers: an empty Call-ID is still an error.
        assert_eq!(
            m.header_all::<CallId>(),
            Err(InvalidHeader {
                name: HeaderName::CallId,
                source: HeaderError::Empty
            })
        );
        // An empty element between commas is still refused.
        let m = parse(
            b"OPTIONS sip:a@b SIP/2.0\r\nSupported: timer,,path\r\nContent-Length: 0\r\n\r\n",
        );
        assert!(m.header_all::<Supported>().is_err());
        let m = parse(b"OPTIONS sip:a@b SIP/2.0\r\nSupported:\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(m.header_all::<Supported>(), Ok(vec![]));
    }

    #[test]
    fn folded_values_are_unfolded_for_reading() {
        let m = parse(b"OPTIONS sip:a@b SIP/2.0\r\nSubject: one\r\n  two\r\n\tthree\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            m.get_str(&HeaderName::Subject).as_deref(),
            Some("one two three")
        );
        assert_eq!(m.to_bytes(), b"OPTIONS sip:a@b SIP/2.0\r\nSubject: one\r\n  two\r\n\tthree\r\nContent-Length: 0\r\n\r\n");
    }
}
