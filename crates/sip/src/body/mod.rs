//! Message bodies that RFC 6910 call completion carries.
//!
//! - [`call_completion`]: the `application/call-completion` body of the `call-completion`
//!   event package (RFC 6910 §10), sent in NOTIFY: `cc-state`, `cc-service-retention`,
//!   `cc-URI`.
//! - [`pidf`]: the PIDF basic status (RFC 3863) that a caller's agent PUBLISHes to suspend
//!   (`closed`) or resume (`open`) its queue entry (RFC 6910 §7.5, §8).
//!
//! Both parsers read hostile network input: they are bounded in size (and, for XML, in
//! nesting depth), never expand entities, and report every refusal as a [`BodyError`].

pub mod call_completion;
pub mod pidf;

pub use call_completion::{CallCompletion, CcState};
pub use pidf::{Basic, Pidf, Tuple};

/// Longest text kept from the input inside an error, so an error cannot echo a whole body.
const SNIPPET_MAX: usize = 64;

/// Why a body was refused. Each case maps to `400 Bad Request` when it comes from a peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body is longer than the parser accepts for its type.
    #[error("body of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Length of the body that was offered.
        len: usize,
        /// Largest length accepted.
        max: usize,
    },
    /// The body is not UTF-8; `offset` is the first byte that is not.
    #[error("body is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },

    /// A call-completion line has no `:` between name and value.
    #[error("line {line}: no ':' after the name")]
    MissingColon {
        /// 1-based physical line number.
        line: usize,
    },
    /// A call-completion line name is empty or not a `token`.
    #[error("line {line}: the name is not a token")]
    InvalidName {
        /// 1-based physical line number.
        line: usize,
    },
    /// A line starts with white space (a continuation) but no line precedes it.
    #[error("line {line}: continuation line with no line to continue")]
    OrphanContinuation {
        /// 1-based physical line number.
        line: usize,
    },
    /// A call-completion line holds a control character other than tab.
    #[error("line {line}: control character")]
    ControlCharacter {
        /// 1-based physical line number.
        line: usize,
    },
    /// A line RFC 6910 §10 allows once appears twice (`URI` and `cc-URI` count as one).
    #[error("{name} appears more than once")]
    Duplicate {
        /// Canonical name of the repeated line.
        name: &'static str,
    },
    /// A line that needs a value has none.
    #[error("{name} has an empty value")]
    EmptyValue {
        /// Canonical name of the line.
        name: &'static str,
    },
    /// The `cc-state` value is not a token.
    #[error("invalid cc-state value {0:?}")]
    InvalidState(String),
    /// The `cc-service-retention` value is neither `true` nor `false`.
    #[error("invalid cc-service-retention value {0:?}")]
    InvalidRetention(String),

    /// The XML is not well-formed; `offset` is where the XML reader stopped.
    #[error("malformed XML at byte {offset}: {message}")]
    Xml {
        /// Byte offset reported by the XML reader.
        offset: u64,
        /// What the XML reader found wrong.
        message: String,
    },
    /// The document has a `<!DOCTYPE ...>`; DTDs and entity declarations are refused outright.
    #[error("DOCTYPE declarations are not accepted")]
    Doctype,
    /// The XML declaration names an encoding other than UTF-8.
    #[error("unsupported XML encoding {0:?}")]
    UnsupportedEncoding(String),
    /// Elements are nested deeper than the parser accepts.
    #[error("elements nested deeper than {max}")]
    TooDeep {
        /// Deepest nesting accepted.
        max: usize,
    },
    /// The root element is not `<presence>` in the PIDF namespace.
    #[error("root element is not a PIDF <presence>")]
    NotPresence,
    /// Markup or text appears after the root element ended, or text before it.
    #[error("content outside the root element")]
    OutsideRoot,
    /// The document ends before the root element is complete (or has no root at all).
    #[error("document ends inside or before the root element")]
    Truncated,
    /// A reference to an entity other than the five XML predefined ones or a character.
    #[error("unknown entity reference &{0};")]
    UnknownEntity(String),
    /// A `<basic>` value other than `open` or `closed`.
    #[error("invalid <basic> value {0:?}")]
    InvalidBasic(String),
}

/// Longest XML reader message kept in an error (it may quote the input).
const MESSAGE_MAX: usize = 160;

/// Copies at most [`SNIPPET_MAX`] characters of hostile input into an error.
fn snippet(s: &str) -> String {
    truncate(s, SNIPPET_MAX)
}

/// Copies at most `max` characters of `s`, marking a cut with `...`.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_string(),
    }
}

/// Checks the size bound, then UTF-8.
fn utf8_within(bytes: &[u8], max: usize) -> Result<&str, BodyError> {
    if bytes.len() > max {
        return Err(BodyError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    std::str::from_utf8(bytes).map_err(|e| BodyError::NotUtf8 {
        offset: e.valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_cuts_long_input_on_a_char_boundary() {
        let long = "é".repeat(100);
        let s = snippet(&long);
        assert_eq!(s.chars().count(), SNIPPET_MAX + 3);
        assert!(s.ends_with("..."));
        assert_eq!(snippet("short"), "short");
    }

    #[test]
    fn utf8_within_checks_size_before_encoding() {
        assert_eq!(
            utf8_within(&[0xff; 10], 5),
            Err(BodyError::TooLarge { len: 10, max: 5 })
        );
        assert_eq!(
            utf8_within(b"ab\xffc", 10),
            Err(BodyError::NotUtf8 { offset: 2 })
        );
        assert_eq!(utf8_within(b"abc", 3), Ok("abc"));
    }
}
