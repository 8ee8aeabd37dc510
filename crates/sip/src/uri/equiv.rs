//! URI equivalence: RFC 3261 §19.1.4 for SIP and SIPS, RFC 3966 §4 for tel.

use super::tel::is_visual_separator;
use super::{hex_val, SipUri, TelUri};
use crate::params::{Param, Params};

/// Parameters that, when present in either URI, must be present in both and match.
const MUST_MATCH: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

pub(super) fn sip(a: &SipUri, b: &SipUri) -> bool {
    a.secure == b.secure
        // userinfo is case-sensitive, other components are not.
        && opt_eq(a.user.as_deref(), b.user.as_deref(), false)
        && opt_eq(a.password.as_deref(), b.password.as_deref(), false)
        && a.host.equivalent(&b.host)
        // A port written as the default still differs from no port.
        && a.port == b.port
        && sip_params(&a.params, &b.params)
        && headers(&a.headers, &b.headers)
}

pub(super) fn tel(a: &TelUri, b: &TelUri) -> bool {
    let digits = |n: &str| -> Vec<u8> {
        n.bytes()
            .filter(|&c| !is_visual_separator(c))
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    digits(&a.number) == digits(&b.number)
        && a.params.len() == b.params.len()
        && contains_all(&a.params, &b.params)
        && contains_all(&b.params, &a.params)
}

/// Every parameter of `a` has a counterpart of the same name and value in `b`.
fn contains_all(a: &Params, b: &Params) -> bool {
    a.iter().all(|p| {
        b.iter()
            .any(|q| norm_eq(&p.name, &q.name, true) && param_eq(p, q))
    })
}

fn sip_params(a: &Params, b: &Params) -> bool {
    for name in MUST_MATCH {
        match (find(a, name), find(b, name)) {
            (None, None) => {}
            (Some(p), Some(q)) if param_eq(p, q) => {}
            _ => return false,
        }
    }
    // Any other parameter counts only when both URIs carry it. With repeated names, the
    // first occurrence is the one that counts.
    a.iter()
        .filter(|p| !MUST_MATCH.iter().any(|m| norm_eq(&p.name, m, true)))
        .filter(|p| find(a, &p.name).is_some_and(|first| std::ptr::eq(first, *p)))
        .all(|p| find(b, &p.name).is_none_or(|q| param_eq(p, q)))
}

/// The first parameter whose name matches, escapes and case aside.
fn find<'a>(params: &'a Params, name: &str) -> Option<&'a Param> {
    params.iter().find(|p| norm_eq(&p.name, name, true))
}

fn param_eq(p: &Param, q: &Param) -> bool {
    values_eq(p.value.as_deref(), q.value.as_deref())
}

fn values_eq(a: Option<&str>, b: Option<&str>) -> bool {
    opt_eq(a, b, true)
}

/// URI headers must all be present on both sides; order does not matter. Names compare
/// without regard to case; values compare exactly after escape normalization, because their
/// meaning (and case rules) depends on the header.
fn headers(a: &[(String, String)], b: &[(String, String)]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|(name, value)| {
        let found = b
            .iter()
            .enumerate()
            .position(|(i, (n, v))| !used[i] && norm_eq(name, n, true) && norm_eq(value, v, false));
        match found {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

fn opt_eq(a: Option<&str>, b: Option<&str>, ignore_case: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => norm_eq(a, b, ignore_case),
        _ => false,
    }
}

/// Compares after decoding escapes of characters outside the RFC 2396 `reserved` set, which
/// RFC 3261 §19.1.4 declares equal to their escaped form.
fn norm_eq(a: &str, b: &str, ignore_case: bool) -> bool {
    let (a, b) = (normalize(a), normalize(b));
    if ignore_case {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn normalize(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex_val),
                b.get(i + 2).copied().and_then(hex_val),
            ) {
                let byte = h << 4 | l;
                if is_reserved(byte) {
                    // Keep the escape, with its hex digits in one case.
                    out.push(b'%');
                    out.push(b[i + 1].to_ascii_uppercase());
                    out.push(b[i + 2].to_ascii_uppercase());
                } else {
                    out.push(byte);
                }
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// RFC 2396 `reserved = ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / ","`.
fn is_reserved(b: u8) -> bool {
    matches!(
        b,
        b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
    )
}
