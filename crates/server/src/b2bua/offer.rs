//! The RFC 6910 call-completion offer on responses to the caller (§7.1, §11):
//! `Call-Info: <sip:cc@DOMAIN>;purpose=call-completion;m=BS|NR|NL`.

use callcomp_sip::headers::call_info::CallInfo;
use callcomp_sip::message::Message;
use callcomp_sip::uri::Uri;

/// The call-completion URI of the server, `sip:cc@<domain>`; `None` if the domain does not
/// make a URI.
pub fn cc_uri(domain: &str) -> Option<Uri> {
    Uri::parse(&format!("sip:cc@{domain}")).ok()
}

/// Adds the offer with mode `m` to `response`.
pub fn add_offer(response: &mut Message, domain: &str, m: &str) {
    if let Some(uri) = cc_uri(domain) {
        response.push(&CallInfo::call_completion(uri, Some(m)));
    }
}
