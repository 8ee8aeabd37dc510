//! Stateless answers to requests that never became a [`Message`](callcomp_sip::message::Message)
//! (RFC 3261 §8.2, §16.11 for stateless tags).
//!
//! The parser refused the bytes, so the answer is built from them directly: the Via, From, To,
//! Call-ID and CSeq lines that can be found are copied as written (RFC 3261 §8.2.6.2), a To
//! tag is added when missing, and the status line carries the parser's reason. Nothing is
//! answered when the bytes do not look like a request (a response, binary noise such as a
//! STUN packet) or when the request is an ACK, which is never answered.

use std::hash::{DefaultHasher, Hash, Hasher};

/// The stateless response to the request in `input` that failed with `status` and `reason`,
/// or `None` when `input` should be dropped without an answer.
pub fn reject(input: &[u8], status: u16, reason: &str) -> Option<Vec<u8>> {
    let lines = Lines::new(input);
    let first = lines.clone().next()?;
    let method = first.split(|&b| b == b' ').next().unwrap_or_default();
    if !looks_like_request(first, method) || method == b"ACK" {
        return None;
    }

    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"SIP/2.0 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    out.extend(
        reason
            .bytes()
            .filter(|b| !b.is_ascii_control())
            .take(MAX_REASON),
    );
    out.extend_from_slice(b"\r\n");

    let mut seen = [false; 4];
    for field in fields(lines.skip(1)) {
        let Some((kind, value)) = classify(&field) else {
            continue;
        };
        if !safe_field(&field) {
            // A bare CR or another control byte: copying it could break our own framing.
            continue;
        }
        match kind {
            Kind::Via => {}
            Kind::Once(i) if seen[i] => continue,
            Kind::Once(i) => seen[i] = true,
        }
        out.extend_from_slice(&field);
        if matches!(kind, Kind::Once(TO)) && !has_tag(value) {
            out.extend_from_slice(b";tag=");
            out.extend_from_slice(stateless_tag(input).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(out)
}

/// Whether the first line of some bytes reads like a request line: a method token followed
/// by more text, and not a status line.
pub fn looks_like_request(first_line: &[u8], method: &[u8]) -> bool {
    !first_line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
        && !method.is_empty()
        && method.len() < first_line.len()
        && method.iter().all(|&b| callcomp_sip::text::is_token_char(b))
}

/// Whether the first non-empty line of `input` is a status line (a response).
pub fn is_response(input: &[u8]) -> bool {
    Lines::new(input)
        .next()
        .and_then(|l| l.get(..4))
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

const MAX_REASON: usize = 128;

const FROM: usize = 0;
const TO: usize = 1;
const CALL_ID: usize = 2;
const CSEQ: usize = 3;

#[derive(Clone, Copy)]
enum Kind {
    /// Every Via line is copied, in order.
    Via,
    /// Only the first line of this header (an index into `seen`).
    Once(usize),
}

/// Which copied header a field is, and its value (after the colon).
fn classify(field: &[u8]) -> Option<(Kind, &[u8])> {
    let colon = field.iter().position(|&b| b == b':')?;
    let name = trim(&field[..colon]);
    let kind = match () {
        _ if is_name(name, b"via", b"v") => Kind::Via,
        _ if is_name(name, b"from", b"f") => Kind::Once(FROM),
        _ if is_name(name, b"to", b"t") => Kind::Once(TO),
        _ if is_name(name, b"call-id", b"i") => Kind::Once(CALL_ID),
        _ if name.eq_ignore_ascii_case(b"cseq") => Kind::Once(CSEQ),
        _ => return None,
    };
    Some((kind, &field[colon + 1..]))
}

/// Whether a field (folded lines joined by CRLF) has no control bytes but tabs and those
/// line breaks.
fn safe_field(field: &[u8]) -> bool {
    field.iter().enumerate().all(|(i, &b)| match b {
        b'\t' => true,
        b'\r' => field.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && field[i - 1] == b'\r',
        _ => !b.is_ascii_control(),
    })
}

fn is_name(name: &[u8], long: &[u8], compact: &[u8]) -> bool {
    name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(compact)
}

/// Whether a To value has a `tag` parameter outside its URI.
fn has_tag(value: &[u8]) -> bool {
    // Parameters of the header follow the closing '>' when there is one; without angle
    // brackets they follow the URI directly.
    let params = match value.iter().rposition(|&b| b == b'>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    params.split(|&b| b == b';').skip(1).any(|p| {
        let name = trim(p.split(|&b| b == b'=').next().unwrap_or_default());
        name.eq_ignore_ascii_case(b"tag")
    })
}

/// A To tag that depends only on the request, so a retransmission gets the same answer
/// (RFC 3261 §16.11 asks stateless elements for this).
fn stateless_tag(input: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    input.hash(&mut h);
    format!("sl{:016x}", h.finish())
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t');
    let Some(start) = start else { return &[] };
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// Groups header lines with their continuation lines (RFC 3261 §7.3.1 folding), up to the
/// empty line. Each field keeps its line breaks between folded lines.
fn fields<'a>(mut lines: impl Iterator<Item = &'a [u8]>) -> impl Iterator<Item = Vec<u8>> {
    let mut pending: Option<Vec<u8>> = None;
    let mut done = false;
    std::iter::from_fn(move || loop {
        if done {
            return pending.take();
        }
        match lines.next() {
            None => {
                done = true;
            }
            Some([]) => {
                done = true;
            }
            Some(line) if line[0] == b' ' || line[0] == b'\t' => {
                if let Some(p) = pending.as_mut() {
                    p.extend_from_slice(b"\r\n");
                    p.extend_from_slice(line);
                }
            }
            Some(line) => {
                let previous = pending.replace(line.to_vec());
                if previous.is_some() {
                    return previous;
                }
            }
        }
    })
}

/// The lines of a message after any leading CR/LF, each without its line end.
#[derive(Clone)]
struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    fn new(input: &'a [u8]) -> Lines<'a> {
        let skip = input
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(input.len());
        Lines {
            rest: &input[skip..],
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (&self.rest[..lf], &self.rest[lf + 1..]),
            None => (self.rest, &[][..]),
        };
        self.rest = rest;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcomp_sip::message::Message;
    use callcomp_sip::parse::Limits;

    fn answer(input: &[u8]) -> Message {
        let bytes = reject(input, 400, "Malformed header line").unwrap();
        Message::parse_datagram(&bytes, &Limits::default()).unwrap()
    }

    #[test]
    fn copies_the_transaction_headers() {
        let input = b"INVITE sip:bob@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\n\
Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n\
f: <sip:alice@example.com>;tag=1\r\n\
TO: <sip:bob@example.com>\r\n\
i: abc@host\r\n\
CSeq: 7 INVITE\r\n\
Subject: ignored\r\n\
Broken line without colon\r\n\r\n";
        let bytes = reject(input, 400, "Malformed header line").unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("SIP/2.0 400 Malformed header line\r\n"));
        assert!(text.contains("\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n"));
        assert!(text.contains("\r\nf: <sip:alice@example.com>;tag=1\r\n"));
        assert!(text.contains("\r\ni: abc@host\r\n"));
        assert!(text.contains("\r\nCSeq: 7 INVITE\r\n"));
        assert!(!text.contains("Subject"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        // The To header gets a tag, the same one for a retransmission.
        let m = answer(input);
        let to = m
            .header::<callcomp_sip::headers::from_to::To>()
            .unwrap()
            .unwrap();
        let tag = to.tag().unwrap().to_string();
        assert!(!tag.is_empty());
        let again = answer(input);
        let to2 = again
            .header::<callcomp_sip::headers::from_to::To>()
            .unwrap()
            .unwrap();
        assert_eq!(to2.tag(), Some(tag.as_str()));
    }

    #[test]
    fn keeps_an_existing_to_tag_and_folded_lines() {
        let input =
            b"BYE sip:x SIP/2.0\r\nTo: sip:bob@example.com;tag=99\r\nCall-ID: a\r\n b\r\n\r\n";
        let text = String::from_utf8(reject(input, 400, "x").unwrap()).unwrap();
        assert!(text.contains("\r\nTo: sip:bob@example.com;tag=99\r\n"));
        assert!(text.contains("\r\nCall-ID: a\r\n b\r\n"));
        // A tag inside the URI is not a header tag.
        let input = b"BYE sip:x SIP/2.0\r\nTo: <sip:bob@example.com;tag=1>\r\n\r\n";
        let text = String::from_utf8(reject(input, 400, "x").unwrap()).unwrap();
        assert!(text.contains("\r\nTo: <sip:bob@example.com;tag=1>;tag=sl"));
    }

    #[test]
    fn does_not_answer_what_is_not_a_request() {
        let rows: &[&[u8]] = &[
            b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n",
            b"ACK sip:x SIP/2.0\r\nVia: x\r\n\r\n",
            b"\x00\x01\x00\x08\x21\x12\xa4\x42",
            b"",
            b"\r\n\r\n",
            b"INVITE",
            b"IN(VITE sip:x SIP/2.0\r\n\r\n",
        ];
        for input in rows {
            assert_eq!(reject(input, 400, "x"), None, "{input:?}");
        }
    }

    #[test]
    fn drops_lines_that_would_break_framing() {
        let input = b"OPTIONS sip:x SIP/2.0\r\nCall-ID: a\rb\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let text = String::from_utf8(reject(input, 400, "bad\r\nX: y").unwrap()).unwrap();
        assert!(text.starts_with("SIP/2.0 400 badX: y\r\n"));
        assert!(!text.contains("Call-ID"));
        assert!(text.contains("CSeq: 1 OPTIONS"));
    }
}
