//! PIDF basic status (RFC 3863), as RFC 6910 §7.5 and §8 use it for suspend and resume.
//!
//! A caller's agent that cannot take a CC recall PUBLISHes a presence document whose tuple
//! has `<basic>closed</basic>` to the `cc-URI`, and `<basic>open</basic>` to resume. Only
//! that much of PIDF is modelled: the `entity`, and per tuple its `id`, basic status and
//! contact. Elements are matched by local name within the PIDF namespace whatever prefix the
//! sender chose; everything else (notes, timestamps, RPID and other extensions) is skipped.
//!
//! The input is hostile, so the reader refuses rather than guesses: bodies over [`MAX_LEN`],
//! non-UTF-8 bytes, any `<!DOCTYPE>` (so no entity can be declared, let alone expanded),
//! references to entities other than the five predefined ones and character references,
//! nesting deeper than [`MAX_DEPTH`], and content outside the root element.

use std::fmt;

use quick_xml::errors::Error as XmlError;
use quick_xml::escape::{resolve_predefined_entity, EscapeError};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;
use quick_xml::XmlVersion;

use super::{snippet, truncate, utf8_within, BodyError, MESSAGE_MAX};

/// The media type of this body, for `Content-Type`.
pub const CONTENT_TYPE: &str = "application/pidf+xml";

/// The PIDF XML namespace (RFC 3863 §4.1).
pub const NAMESPACE: &str = "urn:ietf:params:xml:ns:pidf";

/// Largest document [`Pidf::parse`] accepts, in bytes. A suspend PUBLISH is about 250 bytes.
pub const MAX_LEN: usize = 64 * 1024;

/// Deepest element nesting [`Pidf::parse`] accepts; PIDF itself needs four levels
/// (`presence/tuple/status/basic`), the rest leaves room for extensions.
pub const MAX_DEPTH: usize = 32;

/// A presence document reduced to what call completion reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pidf {
    /// The presentity URI (`entity` attribute). RFC 6910 lets the receiver disregard it; a
    /// document without one is accepted with an empty string.
    pub entity: String,
    /// The tuples, in document order.
    pub tuples: Vec<Tuple>,
}

/// One `<tuple>`: a single presence status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tuple {
    /// The `id` attribute (empty when the sender left it out).
    pub id: String,
    /// `<status><basic>`, if present.
    pub basic: Option<Basic>,
    /// `<contact>`, trimmed, if present.
    pub contact: Option<String>,
}

/// The PIDF `<basic>` status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Basic {
    /// `open`: able to take the CC recall (resume, RFC 6910 §7.5).
    Open,
    /// `closed`: not able to take it now (suspend).
    Closed,
}

impl Pidf {
    /// A document for `entity` with one tuple (id `cc`) carrying `basic`: the suspend or
    /// resume body of RFC 6910.
    pub fn with_basic(entity: impl Into<String>, basic: Basic) -> Pidf {
        Pidf {
            entity: entity.into(),
            tuples: vec![Tuple {
                id: "cc".to_string(),
                basic: Some(basic),
                contact: None,
            }],
        }
    }

    /// Parses a PIDF document; see the module documentation for what is refused.
    pub fn parse(body: &[u8]) -> Result<Pidf, BodyError> {
        let text = utf8_within(body, MAX_LEN)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = NsReader::from_str(text);
        let mut doc = Pidf::default();
        let mut stack: Vec<Node> = Vec::new();
        let mut text_buf = String::new();
        let mut root_done = false;
        loop {
            let (ns, event) = match reader.read_resolved_event() {
                Ok(v) => v,
                Err(e) => return Err(xml_error(&reader, e)),
            };
            let in_pidf =
                matches!(ns, ResolveResult::Bound(Namespace(n)) if n == NAMESPACE.as_bytes());
            match event {
                Event::Start(e) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(BodyError::TooDeep { max: MAX_DEPTH });
                    }
                    let pos = reader.buffer_position();
                    let node = open(&mut doc, &stack, root_done, in_pidf, &e, pos)?;
                    text_buf.clear();
                    stack.push(node);
                }
                Event::Empty(e) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(BodyError::TooDeep { max: MAX_DEPTH });
                    }
                    let pos = reader.buffer_position();
                    let node = open(&mut doc, &stack, root_done, in_pidf, &e, pos)?;
                    text_buf.clear();
                    close(&mut doc, node, &text_buf, &mut root_done)?;
                }
                Event::End(_) => {
                    let Some(node) = stack.pop() else {
                        return Err(BodyError::OutsideRoot);
                    };
                    close(&mut doc, node, &text_buf, &mut root_done)?;
                }
                Event::Text(t) => {
                    let t = t.decode().map_err(|e| xml_error(&reader, e.into()))?;
                    if stack.is_empty() {
                        if !trim_xml(&t).is_empty() {
                            return Err(BodyError::OutsideRoot);
                        }
                    } else if collects_text(&stack) {
                        text_buf.push_str(&t);
                    }
                }
                Event::CData(c) => {
                    if stack.is_empty() {
                        return Err(BodyError::OutsideRoot);
                    }
                    let c = c.decode().map_err(|e| xml_error(&reader, e.into()))?;
                    if collects_text(&stack) {
                        text_buf.push_str(&c);
                    }
                }
                Event::GeneralRef(r) => {
                    // Resolved even inside skipped elements: an undeclared entity is an
                    // error wherever it appears.
                    let resolved = resolve_reference(&reader, &r)?;
                    if stack.is_empty() {
                        return Err(BodyError::OutsideRoot);
                    }
                    if collects_text(&stack) {
                        text_buf.push_str(&resolved);
                    }
                }
                Event::DocType(_) => return Err(BodyError::Doctype),
                Event::Decl(d) => {
                    if let Some(enc) = d.encoding() {
                        let enc = enc.map_err(|e| xml_error(&reader, e.into()))?;
                        if !enc.eq_ignore_ascii_case(b"utf-8") {
                            return Err(BodyError::UnsupportedEncoding(snippet(
                                &String::from_utf8_lossy(&enc),
                            )));
                        }
                    }
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => {
                    return if root_done && stack.is_empty() {
                        Ok(doc)
                    } else {
                        Err(BodyError::Truncated)
                    };
                }
            }
        }
    }

    /// The basic status of the first tuple: what a suspend/resume PUBLISH says.
    pub fn basic(&self) -> Option<Basic> {
        self.tuples.first().and_then(|t| t.basic)
    }

    /// Writes a minimal valid PIDF document (UTF-8, default namespace, no prefixes).
    ///
    /// Markup characters are escaped; characters XML 1.0 cannot carry at all (most ASCII
    /// control characters) are written as U+FFFD. Every tuple gets a `<status>` element,
    /// empty when `basic` is `None`, since the schema requires one.
    pub fn write(&self, out: &mut String) {
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n");
        out.push_str("<presence xmlns=\"");
        out.push_str(NAMESPACE);
        out.push_str("\" entity=\"");
        escape_into(out, &self.entity, true);
        out.push_str("\">\r\n");
        for tuple in &self.tuples {
            out.push_str("  <tuple id=\"");
            escape_into(out, &tuple.id, true);
            out.push_str("\">");
            match tuple.basic {
                Some(basic) => {
                    out.push_str("<status><basic>");
                    out.push_str(basic.as_str());
                    out.push_str("</basic></status>");
                }
                None => out.push_str("<status/>"),
            }
            if let Some(contact) = &tuple.contact {
                out.push_str("<contact>");
                escape_into(out, contact, false);
                out.push_str("</contact>");
            }
            out.push_str("</tuple>\r\n");
        }
        out.push_str("</presence>\r\n");
    }

    /// The document as bytes, ready for a message body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        self.write(&mut out);
        out.into_bytes()
    }
}

impl fmt::Display for Pidf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

impl Basic {
    /// Reads a `<basic>` value: `open` or `closed`, surrounding white space and case ignored.
    pub fn parse(value: &str) -> Result<Basic, BodyError> {
        let value = trim_xml(value);
        if value.eq_ignore_ascii_case("open") {
            Ok(Basic::Open)
        } else if value.eq_ignore_ascii_case("closed") {
            Ok(Basic::Closed)
        } else {
            Err(BodyError::InvalidBasic(snippet(value)))
        }
    }

    /// The value as written in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Basic::Open => "open",
            Basic::Closed => "closed",
        }
    }
}

impl fmt::Display for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an open element means to us.
#[derive(Debug)]
enum Node {
    Presence,
    Tuple,
    Status,
    Basic,
    Contact,
    /// Anything else, skipped with its content.
    Other,
}

/// Classifies a start tag by its place in the tree, reading the attributes we need.
fn open(
    doc: &mut Pidf,
    stack: &[Node],
    root_done: bool,
    in_pidf: bool,
    e: &BytesStart<'_>,
    pos: u64,
) -> Result<Node, BodyError> {
    let local = e.local_name();
    let local = local.as_ref();
    let node = match stack.last() {
        None if root_done => return Err(BodyError::OutsideRoot),
        None if in_pidf && local == b"presence" => {
            doc.entity = attribute(e, b"entity", pos)?.unwrap_or_default();
            Node::Presence
        }
        None => return Err(BodyError::NotPresence),
        Some(Node::Presence) if in_pidf && local == b"tuple" => {
            doc.tuples.push(Tuple {
                id: attribute(e, b"id", pos)?.unwrap_or_default(),
                basic: None,
                contact: None,
            });
            Node::Tuple
        }
        Some(Node::Tuple) if in_pidf && local == b"status" => Node::Status,
        Some(Node::Tuple) if in_pidf && local == b"contact" => Node::Contact,
        Some(Node::Status) if in_pidf && local == b"basic" => Node::Basic,
        Some(_) => {
            // Attribute syntax is still checked in skipped elements.
            for attr in e.attributes() {
                attr.map_err(|err| BodyError::Xml {
                    offset: pos,
                    message: truncate(&err.to_string(), MESSAGE_MAX),
                })?;
            }
            Node::Other
        }
    };
    Ok(node)
}

/// Applies what a closed element collected.
fn close(doc: &mut Pidf, node: Node, text: &str, root_done: &mut bool) -> Result<(), BodyError> {
    match node {
        Node::Presence => *root_done = true,
        Node::Basic => {
            let basic = Basic::parse(text)?;
            if let Some(tuple) = doc.tuples.last_mut() {
                // The schema allows one <basic>; with several, the first one counts.
                tuple.basic.get_or_insert(basic);
            }
        }
        Node::Contact => {
            if let Some(tuple) = doc.tuples.last_mut() {
                tuple
                    .contact
                    .get_or_insert_with(|| trim_xml(text).to_string());
            }
        }
        Node::Tuple | Node::Status | Node::Other => {}
    }
    Ok(())
}

/// Trims XML white space (space, tab, CR, LF: XML 1.0 `S`), not Unicode's: a no-break space
/// in a contact is content.
fn trim_xml(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// Text matters only directly inside `<basic>` and `<contact>`.
fn collects_text(stack: &[Node]) -> bool {
    matches!(stack.last(), Some(Node::Basic | Node::Contact))
}

/// The unescaped value of the unprefixed attribute `name`, if present.
fn attribute(e: &BytesStart<'_>, name: &[u8], pos: u64) -> Result<Option<String>, BodyError> {
    let mut found = None;
    for attr in e.attributes() {
        let attr = attr.map_err(|err| BodyError::Xml {
            offset: pos,
            message: truncate(&err.to_string(), MESSAGE_MAX),
        })?;
        if attr.key.prefix().is_none() && attr.key.local_name().as_ref() == name {
            let value =
                attr.normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|err| match err {
                        XmlError::Escape(EscapeError::UnrecognizedEntity(_, entity)) => {
                            BodyError::UnknownEntity(snippet(&entity))
                        }
                        other => BodyError::Xml {
                            offset: pos,
                            message: truncate(&other.to_string(), MESSAGE_MAX),
                        },
                    })?;
            found = Some(value.into_owned());
        }
    }
    Ok(found)
}

/// Resolves `&name;` to its text: a character reference or one of the five predefined
/// entities. Anything else would need a DTD, which is refused.
fn resolve_reference(reader: &NsReader<&[u8]>, r: &BytesRef<'_>) -> Result<String, BodyError> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            Ok(None) => Err(BodyError::UnknownEntity(String::new())),
            Err(e) => Err(BodyError::Xml {
                offset: reader.buffer_position(),
                message: truncate(&e.to_string(), MESSAGE_MAX),
            }),
        };
    }
    let name = r.decode().map_err(|e| xml_error(reader, e.into()))?;
    match resolve_predefined_entity(&name) {
        Some(text) => Ok(text.to_string()),
        None => Err(BodyError::UnknownEntity(snippet(&name))),
    }
}

fn xml_error(reader: &NsReader<&[u8]>, e: XmlError) -> BodyError {
    BodyError::Xml {
        offset: reader.error_position(),
        message: truncate(&e.to_string(), MESSAGE_MAX),
    }
}

/// Escapes `s` for element content or (with `attr`) a double-quoted attribute value.
fn escape_into(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            // Written as references so a reader's line-end and attribute normalization
            // cannot change them.
            '\r' => out.push_str("&#13;"),
            '\t' if attr => out.push_str("&#9;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC6910_SUSPEND: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
        <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:123@a.com\">\r\n\
        <tuple id=\"t1\"><status><basic>closed</basic></status></tuple>\r\n\
        </presence>\r\n";

    fn tuple(id: &str, basic: Option<Basic>, contact: Option<&str>) -> Tuple {
        Tuple {
            id: id.to_string(),
            basic,
            contact: contact.map(str::to_string),
        }
    }

    /// Documents that must parse, with what they say.
    #[test]
    fn parse_accepts() {
        let cases: &[(&str, &str, Pidf)] = &[
            (
                "RFC 6910 §8 suspend",
                RFC6910_SUSPEND,
                Pidf {
                    entity: "sip:123@a.com".into(),
                    tuples: vec![tuple("t1", Some(Basic::Closed), None)],
                },
            ),
            (
                "resume, no XML declaration, contact",
                "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:a@b'>\
                 <tuple id='x'><status><basic> open </basic></status>\
                 <contact priority='0.8'> sip:a@host </contact></tuple></presence>",
                Pidf {
                    entity: "pres:a@b".into(),
                    tuples: vec![tuple("x", Some(Basic::Open), Some("sip:a@host"))],
                },
            ),
            (
                "prefixed PIDF namespace",
                "<p:presence xmlns:p=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@b\">\
                 <p:tuple id=\"t\"><p:status><p:basic>open</p:basic></p:status></p:tuple>\
                 </p:presence>",
                Pidf {
                    entity: "sip:a@b".into(),
                    tuples: vec![tuple("t", Some(Basic::Open), None)],
                },
            ),
            (
                "unknown elements and other namespaces are skipped",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
                 xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" \
                 xmlns:x=\"urn:example:other\" entity=\"sip:a@b\">\
                 <!-- a comment --><?pi ignored?>\
                 <tuple id=\"t1\"><status><basic>closed</basic><x:basic>open</x:basic>\
                 <x:extra><basic>open</basic></x:extra></status>\
                 <note xml:lang=\"en\">busy &amp; away</note><timestamp>2026-01-01T00:00:00Z</timestamp>\
                 </tuple><x:tuple id=\"fake\"/><dm:person id=\"p\"><x:deep><x:deeper/></x:deep></dm:person>\
                 <note>n</note></presence>",
                Pidf {
                    entity: "sip:a@b".into(),
                    tuples: vec![tuple("t1", Some(Basic::Closed), None)],
                },
            ),
            (
                "escapes, character references and CDATA",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a&amp;b@c?x=&quot;1&quot;\">\
                 <tuple id=\"&#x74;1\"><status><basic>&#111;pen</basic></status>\
                 <contact>sip:x@y;a=&lt;&gt;<![CDATA[&raw]]></contact></tuple></presence>",
                Pidf {
                    entity: "sip:a&b@c?x=\"1\"".into(),
                    tuples: vec![tuple("t1", Some(Basic::Open), Some("sip:x@y;a=<>&raw"))],
                },
            ),
            (
                "several tuples, one without status, empty elements",
                "\u{feff}<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">\
                 <tuple id=\"a\"><status/></tuple><tuple id=\"b\"/>\
                 <tuple id=\"c\"><status><basic>CLOSED</basic></status></tuple></presence>",
                Pidf {
                    entity: "e".into(),
                    tuples: vec![
                        tuple("a", None, None),
                        tuple("b", None, None),
                        tuple("c", Some(Basic::Closed), None),
                    ],
                },
            ),
            (
                "lenient: no entity, no tuple id, empty presence",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><tuple/></presence>",
                Pidf {
                    entity: String::new(),
                    tuples: vec![tuple("", None, None)],
                },
            ),
            (
                "self-closing root",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\"/>\r\n",
                Pidf {
                    entity: "e".into(),
                    tuples: vec![],
                },
            ),
        ];
        for (what, body, want) in cases {
            assert_eq!(Pidf::parse(body.as_bytes()).as_ref(), Ok(want), "{what}");
        }
    }

    /// Documents that must be refused, with the reason.
    #[test]
    fn parse_refuses() {
        let deep = format!(
            "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">{}{}</presence>",
            "<a>".repeat(MAX_DEPTH),
            "</a>".repeat(MAX_DEPTH)
        );
        let deep_empty = format!(
            "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">{}<b/>{}</presence>",
            "<a>".repeat(MAX_DEPTH - 1),
            "</a>".repeat(MAX_DEPTH - 1)
        );
        let cases: Vec<(&str, String, BodyError)> = vec![
            (
                "DOCTYPE with an entity declaration (billion laughs shape)",
                "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
                 <!ENTITY lol2 \"&lol;&lol;&lol;\">]>\
                 <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"&lol2;\"/>"
                    .into(),
                BodyError::Doctype,
            ),
            (
                "external entity (XXE shape)",
                "<!DOCTYPE p [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><p>&x;</p>".into(),
                BodyError::Doctype,
            ),
            (
                "undeclared entity in text",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">\
                 <tuple id=\"t\"><status><basic>&foo;</basic></status></tuple></presence>"
                    .into(),
                BodyError::UnknownEntity("foo".into()),
            ),
            (
                "undeclared entity in a skipped element",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\"><note>&nbsp;</note></presence>"
                    .into(),
                BodyError::UnknownEntity("nbsp".into()),
            ),
            (
                "undeclared entity in an attribute",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"&evil;\"/>".into(),
                BodyError::UnknownEntity("evil".into()),
            ),
            ("nesting too deep", deep, BodyError::TooDeep { max: MAX_DEPTH }),
            (
                "an empty element past the depth bound",
                deep_empty,
                BodyError::TooDeep { max: MAX_DEPTH },
            ),
            (
                "wrong root element",
                "<presencex xmlns=\"urn:ietf:params:xml:ns:pidf\"/>".into(),
                BodyError::NotPresence,
            ),
            (
                "presence outside the PIDF namespace",
                "<presence entity=\"e\"><tuple id=\"t\"/></presence>".into(),
                BodyError::NotPresence,
            ),
            (
                "presence in another namespace",
                "<presence xmlns=\"urn:example\" entity=\"e\"/>".into(),
                BodyError::NotPresence,
            ),
            (
                "a second root",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"/><presence xmlns=\"urn:ietf:params:xml:ns:pidf\"/>"
                    .into(),
                BodyError::OutsideRoot,
            ),
            (
                "text after the root",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"/>junk".into(),
                BodyError::OutsideRoot,
            ),
            (
                "text before the root",
                "junk<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"/>".into(),
                BodyError::OutsideRoot,
            ),
            ("empty document", String::new(), BodyError::Truncated),
            ("white space only", " \r\n ".into(), BodyError::Truncated),
            (
                "a <basic> value that is neither open nor closed",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">\
                 <tuple id=\"t\"><status><basic>ajar</basic></status></tuple></presence>"
                    .into(),
                BodyError::InvalidBasic("ajar".into()),
            ),
            (
                "an empty <basic/>",
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">\
                 <tuple id=\"t\"><status><basic/></status></tuple></presence>"
                    .into(),
                BodyError::InvalidBasic(String::new()),
            ),
            (
                "a non-UTF-8 encoding declaration",
                "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\
                 <presence xmlns=\"urn:ietf:params:xml:ns:pidf\"/>"
                    .into(),
                BodyError::UnsupportedEncoding("ISO-8859-1".into()),
            ),
        ];
        for (what, body, want) in cases {
            assert_eq!(Pidf::parse(body.as_bytes()), Err(want), "{what}");
        }
    }

    /// Malformed XML: the exact message is the XML reader's, so only the kind is checked.
    #[test]
    fn parse_refuses_malformed_xml() {
        let cases: &[(&str, &[u8])] = &[
            ("unclosed root", b"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\">"),
            (
                "mismatched end tag",
                b"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><tuple></status></presence>",
            ),
            ("garbage", b"<<<>>>&&&;;;"),
            ("stray end tag", b"</presence>"),
            ("unterminated tag", b"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\""),
            (
                "duplicate attribute",
                b"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"a\" entity=\"b\"/>",
            ),
            (
                "unquoted attribute",
                b"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=a/>",
            ),
            ("bad character reference", b"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><tuple><contact>&#xZZ;</contact></tuple></presence>"),
            ("dangling ampersand", b"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><note>a & b</note></presence>"),
            ("not UTF-8", b"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"\xff\"/>"),
            ("UTF-16", b"\xff\xfe<\0p\0/\0>\0"),
        ];
        for (what, body) in cases {
            let err = Pidf::parse(body);
            assert!(
                matches!(
                    err,
                    Err(BodyError::Xml { .. }
                        | BodyError::Truncated
                        | BodyError::OutsideRoot
                        | BodyError::NotUtf8 { .. }
                        | BodyError::NotPresence)
                ),
                "{what}: {err:?}"
            );
        }
    }

    #[test]
    fn parse_accepts_nesting_up_to_the_bound() {
        // The root counts as one level: MAX_DEPTH - 1 more fit, in both tag forms.
        let inner = MAX_DEPTH - 1;
        for leaf in ["<a></a>", "<a/>"] {
            let body = format!(
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">{}{leaf}{}</presence>",
                "<a>".repeat(inner - 1),
                "</a>".repeat(inner - 1)
            );
            assert!(Pidf::parse(body.as_bytes()).is_ok(), "{leaf}");
        }
    }

    #[test]
    fn parse_refuses_oversized_documents() {
        let mut body = RFC6910_SUSPEND.as_bytes().to_vec();
        body.resize(MAX_LEN + 1, b' ');
        assert_eq!(
            Pidf::parse(&body),
            Err(BodyError::TooLarge {
                len: MAX_LEN + 1,
                max: MAX_LEN
            })
        );
    }

    #[test]
    fn basic_is_the_first_tuple_status() {
        let doc = Pidf::parse(RFC6910_SUSPEND.as_bytes()).unwrap();
        assert_eq!(doc.basic(), Some(Basic::Closed));
        let two = Pidf {
            entity: "e".into(),
            tuples: vec![tuple("a", None, None), tuple("b", Some(Basic::Open), None)],
        };
        assert_eq!(two.basic(), None);
        assert_eq!(Pidf::default().basic(), None);
    }

    #[test]
    fn write_is_minimal_and_valid() {
        let doc = Pidf::with_basic("sip:123@a.com", Basic::Closed);
        assert_eq!(
            doc.to_string(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
             <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:123@a.com\">\r\n  \
             <tuple id=\"cc\"><status><basic>closed</basic></status></tuple>\r\n\
             </presence>\r\n"
        );
        assert_eq!(Pidf::parse(&doc.to_bytes()), Ok(doc));
    }

    #[test]
    fn write_escapes_markup_and_controls() {
        let doc = Pidf {
            entity: "sip:a\"&'<>@b\t\r\n".into(),
            tuples: vec![
                tuple("i\"d", None, Some("<sip:x@y>&\r\nz")),
                tuple("t2", Some(Basic::Open), Some("nul\u{0}bell\u{7}")),
            ],
        };
        let text = doc.to_string();
        assert!(text.contains("entity=\"sip:a&quot;&amp;'&lt;&gt;@b&#9;&#13;&#10;\""));
        assert!(text.contains("<tuple id=\"i&quot;d\"><status/>"));
        assert!(text.contains("<contact>&lt;sip:x@y&gt;&amp;&#13;\nz</contact>"));
        let back = Pidf::parse(text.as_bytes()).unwrap();
        assert_eq!(back.entity, doc.entity);
        assert_eq!(back.tuples[0], doc.tuples[0]);
        assert_eq!(
            back.tuples[1].contact.as_deref(),
            Some("nul\u{fffd}bell\u{fffd}")
        );
    }

    #[test]
    fn basic_words() {
        assert_eq!(Basic::Open.as_str(), "open");
        assert_eq!(Basic::Closed.to_string(), "closed");
        assert_eq!(Basic::parse(" Open\n"), Ok(Basic::Open));
        assert_eq!(
            Basic::parse("half"),
            Err(BodyError::InvalidBasic("half".into()))
        );
    }
}
