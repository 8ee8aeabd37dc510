//! The `sip:` / `sips:` URI grammar after the scheme (RFC 3261 §25.1 `SIP-URI`).

use super::{check_chars, is_unreserved, parse_hostport, SipUri, UriError};
use crate::params::Params;

/// Parses the text after `sip:` or `sips:`; `base` is its offset in the whole URI.
pub(super) fn parse(s: &str, base: usize, secure: bool) -> Result<SipUri, UriError> {
    // `@` may appear unescaped only as the end of the userinfo: parameters, headers and
    // the host cannot hold one, and the user and password must escape it.
    let (user, password, after, after_base) = match s.find('@') {
        Some(at) => {
            let info = &s[..at];
            let (user, password) = match info.find(':') {
                Some(c) => (&info[..c], Some(&info[c + 1..])),
                None => (info, None),
            };
            if user.is_empty() {
                return Err(UriError::EmptyUser);
            }
            check_chars(user, base, "user", is_user_char)?;
            if let Some(pw) = password {
                check_chars(pw, base + user.len() + 1, "password", is_password_char)?;
            }
            (
                Some(user.to_string()),
                password.map(str::to_string),
                &s[at + 1..],
                base + at + 1,
            )
        }
        None => (None, None, s, base),
    };
    // Both are ASCII, so the byte index found is a char boundary.
    let host_end = memchr::memchr2(b';', b'?', after.as_bytes()).unwrap_or(after.len());
    let (host, port) = parse_hostport(&after[..host_end], after_base)?;
    let rest = &after[host_end..];
    let rest_base = after_base + host_end;
    let (params_text, headers_text) = match rest.find('?') {
        Some(q) => (&rest[..q], Some((&rest[q + 1..], rest_base + q + 1))),
        None => (rest, None),
    };
    let params = parse_params(params_text, rest_base, is_param_char)?;
    let headers = match headers_text {
        Some((text, at)) => parse_headers(text, at)?,
        None => Vec::new(),
    };
    Ok(SipUri {
        secure,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

/// Parses `*( ";" pname [ "=" pvalue ] )` with the given name and value characters; `s`
/// is empty or starts with `;`.
pub(super) fn parse_params(
    s: &str,
    base: usize,
    allowed: fn(u8) -> bool,
) -> Result<Params, UriError> {
    let mut params = Params::new();
    let mut offset = 0;
    // Every item but the first (empty, before the leading ';') is one parameter.
    for (i, item) in s.split(';').enumerate() {
        let at = base + offset;
        offset += item.len() + 1;
        if i == 0 {
            continue;
        }
        let (name, value) = match item.find('=') {
            Some(eq) => (&item[..eq], Some(&item[eq + 1..])),
            None => (item, None),
        };
        if name.is_empty() || value.is_some_and(str::is_empty) {
            return Err(UriError::EmptyParam { position: at - 1 });
        }
        check_chars(name, at, "parameter", allowed)?;
        if let Some(v) = value {
            check_chars(v, at + name.len() + 1, "parameter", is_param_char)?;
        }
        params.push(name, value.map(str::to_string));
    }
    Ok(params)
}

fn parse_headers(s: &str, base: usize) -> Result<Vec<(String, String)>, UriError> {
    let mut headers = Vec::new();
    let mut at = base;
    for item in s.split('&') {
        let Some(eq) = item.find('=') else {
            return Err(UriError::BadHeader { position: at });
        };
        let (name, value) = (&item[..eq], &item[eq + 1..]);
        if name.is_empty() {
            return Err(UriError::BadHeader { position: at });
        }
        check_chars(name, at, "header", is_header_char)?;
        check_chars(value, at + eq + 1, "header", is_header_char)?;
        headers.push((name.to_string(), value.to_string()));
        at += item.len() + 1;
    }
    Ok(headers)
}

/// `user = 1*( unreserved / escaped / user-unreserved )`.
fn is_user_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

/// `password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )`.
fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

/// `paramchar = param-unreserved / unreserved / escaped`.
pub(super) fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

/// `hname` / `hvalue` characters: `hnv-unreserved / unreserved / escaped`.
fn is_header_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}
