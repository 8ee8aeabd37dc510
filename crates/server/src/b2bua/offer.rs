//! The RFC 6910 call-completion offer on responses to the caller (§7.1, §11):
//! `Call-Info: <sip:cc@DOMAIN>;purpose=call-completion;m=BS|NR|NL`, and the per-request cc URI
//! `sip:cc-<completion id>@DOMAIN` that NOTIFY bodies (`cc-URI`), recalls and CC calls carry,
//! so one phone's requests are told apart.

use callcomp_sip::headers::call_info::CallInfo;
use callcomp_sip::message::Message;
use callcomp_sip::uri::Uri;
use callcomp_switch::{CompletionCond, CompletionId};

use crate::registrar::aor_user;

/// The user part of the monitor URI a failed call offers.
pub const CC_USER: &str = "cc";

/// The call-completion URI of the server, `sip:cc@<domain>`; `None` if the domain does not
/// make a URI.
pub fn cc_uri(domain: &str) -> Option<Uri> {
    Uri::parse(&format!("sip:{CC_USER}@{domain}")).ok()
}

/// The cc URI of request `id`: `sip:cc-<id>@<domain>`.
pub fn request_cc_uri(domain: &str, id: CompletionId) -> Option<Uri> {
    Uri::parse(&format!("sip:{CC_USER}-{id}@{domain}")).ok()
}

/// The request a cc URI names (`sip:cc-7@…` → 7); `None` for any other URI.
pub fn request_of_uri(uri: &Uri) -> Option<CompletionId> {
    let user = aor_user(uri)?;
    let digits = user.strip_prefix(CC_USER)?.strip_prefix('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    CompletionId::new(digits.parse().ok()?)
}

/// Whether `uri` is the monitor URI of the offer (`sip:cc@…`).
pub fn is_monitor_uri(uri: &Uri) -> bool {
    aor_user(uri).is_some_and(|u| u == CC_USER)
}

/// The RFC 6910 `m` value of a failure condition: `BS`, `NR`, `NL`.
pub fn m_of(condition: CompletionCond) -> &'static str {
    match condition {
        CompletionCond::Busy => "BS",
        CompletionCond::Noanswer => "NR",
        CompletionCond::Notregistered => "NL",
    }
}

/// The completion request a message's `Call-Info: <sip:cc-N@…>;purpose=call-completion`
/// names, if it carries one (the CC call's second form, RFC 6910 §6.4).
pub fn request_of_call_info(message: &Message) -> Option<CompletionId> {
    message
        .header_all::<CallInfo>()
        .ok()?
        .iter()
        .filter(|c| c.is_call_completion())
        .find_map(|c| request_of_uri(&c.uri))
}

/// Adds the offer with mode `m` to `response`.
pub fn add_offer(response: &mut Message, domain: &str, m: &str) {
    if let Some(uri) = cc_uri(domain) {
        response.push(&CallInfo::call_completion(uri, Some(m)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_cc_uris_round_trip_and_others_are_not_requests() {
        let id = CompletionId::new(42).unwrap();
        let uri = request_cc_uri("example.com", id).unwrap();
        assert_eq!(uri.to_string(), "sip:cc-42@example.com");
        assert_eq!(request_of_uri(&uri), Some(id));
        for other in [
            "sip:cc@example.com",
            "sip:cc-@example.com",
            "sip:cc-0@example.com",
            "sip:cc-4x@example.com",
            "sip:bob@example.com",
            "sip:cc-99999999999@example.com",
        ] {
            assert_eq!(request_of_uri(&Uri::parse(other).unwrap()), None, "{other}");
        }
        assert!(is_monitor_uri(&cc_uri("example.com").unwrap()));
        assert!(!is_monitor_uri(&uri));
    }

    #[test]
    fn m_values_follow_the_condition() {
        assert_eq!(m_of(CompletionCond::Busy), "BS");
        assert_eq!(m_of(CompletionCond::Noanswer), "NR");
        assert_eq!(m_of(CompletionCond::Notregistered), "NL");
    }
}
