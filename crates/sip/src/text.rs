//! Lexical rules shared by the parser and the typed headers (RFC 3261 §25.1).
//!
//! Everything here works on already unfolded header values: the parser replaces
//! each `CRLF 1*WSP` fold by a single space before a typed header sees the value.

use std::borrow::Cow;

/// `token` characters of RFC 3261 §25.1: alphanumerics and `-.!%*_+`~'`.
pub fn is_token_char(b: u8) -> bool {
    // A table lookup: this runs for every byte of every header name and parameter.
    TOKEN_CHARS[usize::from(b)]
}

/// [`is_token_char`] for every byte value.
const TOKEN_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    table
};

/// True when `s` is a non-empty `token`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// `word` characters (Call-ID): token characters plus `()<>:\"/[]?{}`.
pub fn is_word_char(b: u8) -> bool {
    is_token_char(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// Linear white space after unfolding: space or horizontal tab.
pub fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Trims spaces and tabs on both ends.
pub fn trim_wsp(s: &str) -> &str {
    // Byte scan: SP and HTAB are ASCII, so the cut points are char boundaries.
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_wsp(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !is_wsp(c)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// Replaces every line fold (`CRLF` or bare `LF` followed by white space) by one space.
///
/// Borrows when there is nothing to unfold, which is the common case.
pub fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'\r', b'\n', value).is_none() {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b == b'\r' || b == b'\n' {
            // Skip the line break and the white space that continues the line.
            while i < value.len() && (value[i] == b'\r' || value[i] == b'\n') {
                i += 1;
            }
            while i < value.len() && is_wsp(value[i]) {
                i += 1;
            }
            if !out.last().is_some_and(|&b| is_wsp(b)) {
                out.push(b' ');
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Splits a header value at top-level commas: commas inside a quoted string,
/// inside `<...>` or escaped by a backslash in a quoted string do not split.
///
/// Each item is trimmed of white space. Empty items are returned as empty
/// strings so that a caller can reject `a,,b` where the grammar forbids it.
pub fn split_top_level(value: &str, sep: u8) -> SplitTopLevel<'_> {
    SplitTopLevel {
        rest: Some(value),
        sep,
    }
}

/// Iterator returned by [`split_top_level`].
#[derive(Debug, Clone)]
pub struct SplitTopLevel<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for SplitTopLevel<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let bytes = s.as_bytes();
        let mut in_quotes = false;
        let mut in_angle = false;
        let mut i = 0;
        while i < bytes.len() {
            // Jump to the next byte that can matter in the current state; the bytes in
            // between change nothing. Values are mostly plain, so this is one vectorised
            // search per item instead of a loop over every byte.
            let rest = &bytes[i..];
            let next = if in_quotes {
                memchr::memchr2(b'\\', b'"', rest)
            } else if in_angle {
                memchr::memchr2(b'"', b'>', rest)
            } else {
                memchr::memchr3(self.sep, b'"', b'<', rest)
            };
            match next {
                Some(offset) => i += offset,
                None => break,
            }
            let b = bytes[i];
            if in_quotes {
                if b == b'\\' {
                    i += 1;
                } else if b == b'"' {
                    in_quotes = false;
                }
            } else if b == b'"' {
                in_quotes = true;
            } else if b == b'<' {
                in_angle = true;
            } else if b == b'>' {
                in_angle = false;
            } else if b == self.sep && !in_angle {
                self.rest = Some(&s[i + 1..]);
                return Some(trim_wsp(&s[..i]));
            }
            i += 1;
        }
        self.rest = None;
        Some(trim_wsp(s))
    }
}

/// Reads a `quoted-string` at the start of `s` (which must begin with `"`).
///
/// Returns the unescaped content and the rest of the input after the closing
/// quote, or `None` when the closing quote is missing.
pub fn read_quoted(s: &str) -> Option<(String, &str)> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut out = String::new();
    let mut i = 1;
    let mut start = 1;
    while i < bytes.len() {
        // Only a backslash or a quote ends a plain run.
        match memchr::memchr2(b'\\', b'"', &bytes[i..]) {
            Some(offset) => i += offset,
            None => return None,
        }
        match bytes[i] {
            b'\\' => {
                out.push_str(&s[start..i]);
                let next = s[i + 1..].chars().next()?;
                out.push(next);
                i += 1 + next.len_utf8();
                start = i;
            }
            b'"' => {
                out.push_str(&s[start..i]);
                return Some((out, &s[i + 1..]));
            }
            _ => i += 1,
        }
    }
    None
}

/// Writes `s` as a `quoted-string`, escaping `"` and `\`.
pub fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Case-insensitive ASCII comparison.
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_wsp_cuts_only_spaces_and_tabs() {
        for (input, expected) in [
            ("  a b \t", "a b"),
            ("\t\t", ""),
            ("", ""),
            ("x", "x"),
            (" é ", "é"),
            ("\r\na\r\n", "\r\na\r\n"),
            (" \u{a0}z\u{a0} ", "\u{a0}z\u{a0}"),
        ] {
            assert_eq!(trim_wsp(input), expected, "{input:?}");
        }
    }

    #[test]
    fn token_chars_are_exactly_rfc_3261() {
        let marks = b"-.!%*_+`'~";
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || marks.contains(&b);
            assert_eq!(is_token_char(b), expected, "byte {b}");
        }
    }

    #[test]
    fn unfold_replaces_folds_by_one_space() {
        assert_eq!(&*unfold(b"a\r\n  b"), b"a b");
        assert_eq!(&*unfold(b"a \r\n\tb"), b"a b");
        assert!(matches!(unfold(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn split_respects_quotes_and_angles() {
        let parts: Vec<_> =
            split_top_level(r#""a, b" <sip:x@y;p=1,2>, <sip:z>;q=0.5 , c"#, b',').collect();
        assert_eq!(
            parts,
            vec![r#""a, b" <sip:x@y;p=1,2>"#, "<sip:z>;q=0.5", "c"]
        );
        let parts: Vec<_> = split_top_level(r#""x\", y", z"#, b',').collect();
        assert_eq!(parts, vec![r#""x\", y""#, "z"]);
        let parts: Vec<_> = split_top_level("a,,b", b',').collect();
        assert_eq!(parts, vec!["a", "", "b"]);
    }

    #[test]
    fn quoted_strings_round_trip() {
        let (s, rest) = read_quoted(r#""J \"Rosenberg\" \\" <sip:j@x>"#).unwrap();
        assert_eq!(s, r#"J "Rosenberg" \"#);
        assert_eq!(rest, " <sip:j@x>");
        let mut out = String::new();
        write_quoted(&mut out, &s);
        assert_eq!(out, r#""J \"Rosenberg\" \\""#);
        assert!(read_quoted(r#""unterminated"#).is_none());
        assert!(read_quoted(r#""ends in a backslash\"#).is_none());
        assert_eq!(read_quoted("\"é\\ü\"\"x"), Some(("éü".to_string(), "\"x")));
        assert_eq!(read_quoted("\"\";tag=1"), Some((String::new(), ";tag=1")));
    }

    #[test]
    fn token_rules() {
        assert!(is_token("z9hG4bK.-!%*_+`'~"));
        assert!(!is_token("a b"));
        assert!(!is_token(""));
    }
}
