//! The `tel:` URI grammar after the scheme (RFC 3966 §3).

use super::sip::parse_params;
use super::{TelUri, UriError};

/// Parses the text after `tel:`; `base` is its offset in the whole URI.
pub(super) fn parse(s: &str, base: usize) -> Result<TelUri, UriError> {
    let end = s.find(';').unwrap_or(s.len());
    let number = &s[..end];
    let bad = || UriError::BadTelNumber(number.to_string());
    let global = number.starts_with('+');
    let valid = if let Some(digits) = number.strip_prefix('+') {
        digits.bytes().any(|b| b.is_ascii_digit())
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || is_visual_separator(b))
    } else {
        number
            .bytes()
            .any(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#')
            && number
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#' || is_visual_separator(b))
    };
    if !valid {
        return Err(bad());
    }
    let params = parse_params(&s[end..], base + end, is_tel_pname_char)?;
    if !global && !params.contains("phone-context") {
        return Err(UriError::MissingPhoneContext);
    }
    Ok(TelUri {
        number: number.to_string(),
        params,
    })
}

/// RFC 3966 `visual-separator = "-" / "." / "(" / ")"`.
pub(super) fn is_visual_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')')
}

/// RFC 3966 `pname = 1*( alphanum / "-" )`.
fn is_tel_pname_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}
