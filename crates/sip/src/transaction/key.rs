//! Transaction keys: which transaction a message belongs to.
//!
//! - Client side (RFC 3261 §17.1.3): a response matches the client transaction whose request
//!   carried the same `branch` in its top Via and the same method as the response's CSeq.
//!   A CANCEL has the branch of the request it cancels but its own key, since its method
//!   differs.
//! - Server side (§17.2.3): when the top Via branch starts with the magic cookie `z9hG4bK`,
//!   a request matches on branch, sent-by and method, with an ACK matching the INVITE it
//!   acknowledges. Otherwise (RFC 2543 peers) the key is the Request-URI, the From and To
//!   tags, Call-ID, the CSeq number and method, and the whole top Via.
//! - A CANCEL targets the INVITE server transaction whose key equals the CANCEL's own key
//!   with the method replaced by INVITE (§9.2).
//!
//! Values are compared as the sender wrote them, except the sent-by host and the legacy top
//! Via, which are compared case-insensitively (lower-cased in the key; the legacy top Via in
//! the normal form the typed Via writes, so white space does not matter).

use std::fmt;
use std::fmt::Write as _;

use crate::header_name::HeaderName;
use crate::headers::call_id::CallId;
use crate::headers::cseq::CSeq;
use crate::headers::from_to::{From, To};
use crate::headers::via::{Via, MAGIC_COOKIE};
use crate::headers::Header;
use crate::message::Message;
use crate::method::Method;
use crate::text;

/// Identifies one transaction among all a layer holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransactionKey {
    /// A client transaction: the branch our request carried and its method.
    Client {
        /// Top Via `branch` of the request.
        branch: String,
        /// Request method (equal to the CSeq method of its responses).
        method: Method,
    },
    /// A server transaction created by an RFC 3261 request (branch with the magic cookie).
    Server {
        /// Top Via `branch`.
        branch: String,
        /// Top Via sent-by, host lower-cased, with its port as written.
        sent_by: String,
        /// Method of the request that created it (INVITE for its ACK).
        method: Method,
    },
    /// A server transaction created by a request without the magic cookie (RFC 2543).
    Legacy(Box<LegacyKey>),
}

/// The RFC 2543 matching fields of §17.2.3.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LegacyKey {
    /// The Request-URI as written.
    pub request_uri: String,
    /// The From tag.
    pub from_tag: Option<String>,
    /// The To tag of the request (an ACK also matches with none: the tag it carries was
    /// chosen by our response).
    pub to_tag: Option<String>,
    /// Call-ID.
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
    /// Method of the request that created the transaction (INVITE for its ACK).
    pub method: Method,
    /// The top Via value in normal form, lower-cased.
    pub top_via: String,
}

/// Why no key could be computed: the message cannot take part in a transaction. For a
/// request, the answer is a stateless `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A request was expected.
    #[error("not a request")]
    NotARequest,
    /// A response was expected.
    #[error("not a response")]
    NotAResponse,
    /// There is no Via header.
    #[error("missing Via")]
    MissingVia,
    /// The top Via does not follow `SIP/2.0/transport sent-by *(;param)`.
    #[error("malformed top Via")]
    MalformedVia,
    /// The top Via has no `branch` where one is needed.
    #[error("top Via has no branch")]
    MissingBranch,
    /// A request we send must carry an RFC 3261 branch (§8.1.1.7).
    #[error("branch {0:?} does not start with z9hG4bK")]
    BranchWithoutCookie(String),
    /// There is no CSeq header.
    #[error("missing CSeq")]
    MissingCSeq,
    /// The CSeq is not `number method`.
    #[error("malformed CSeq")]
    MalformedCSeq,
    /// The CSeq method differs from the request method (§8.2: answer 400).
    #[error("CSeq method {cseq} differs from request method {request}")]
    MethodMismatch {
        /// Method of the request line.
        request: Method,
        /// Method in CSeq.
        cseq: Method,
    },
    /// An RFC 2543 request without a valid Call-ID.
    #[error("missing or malformed Call-ID")]
    MissingCallId,
    /// A CANCEL was expected.
    #[error("not a CANCEL")]
    NotACancel,
}

impl TransactionKey {
    /// The key of a client transaction for a request we are about to send. The branch must
    /// start with the magic cookie; ACK is refused by the layer, not here.
    pub fn client_for_request(request: &Message) -> Result<TransactionKey, KeyError> {
        let method = request.method().ok_or(KeyError::NotARequest)?.clone();
        let via = TopVia::of(request)?;
        let branch = via.branch.ok_or(KeyError::MissingBranch)?;
        if !branch.starts_with(MAGIC_COOKIE) {
            return Err(KeyError::BranchWithoutCookie(branch));
        }
        Ok(TransactionKey::Client { branch, method })
    }

    /// The key of the client transaction a received response belongs to (§17.1.3).
    pub fn client_for_response(response: &Message) -> Result<TransactionKey, KeyError> {
        if response.is_request() {
            return Err(KeyError::NotAResponse);
        }
        let via = TopVia::of(response)?;
        let branch = via.branch.ok_or(KeyError::MissingBranch)?;
        let (_, method) = cseq(response)?;
        Ok(TransactionKey::Client { branch, method })
    }

    /// The key of the server transaction a received request belongs to or creates
    /// (§17.2.3). An ACK gets the key of the INVITE it acknowledges.
    pub fn server_for_request(request: &Message) -> Result<TransactionKey, KeyError> {
        let method = request.method().ok_or(KeyError::NotARequest)?;
        let (seq, cseq_method) = cseq(request)?;
        if &cseq_method != method {
            return Err(KeyError::MethodMismatch {
                request: method.clone(),
                cseq: cseq_method,
            });
        }
        let method = match method {
            Method::Ack => Method::Invite,
            other => other.clone(),
        };
        let via = TopVia::of(request)?;
        match via.branch {
            Some(branch) if branch.starts_with(MAGIC_COOKIE) => Ok(TransactionKey::Server {
                branch,
                sent_by: via.sent_by,
                method,
            }),
            _ => {
                let call_id = match request.header::<CallId>() {
                    Some(Ok(CallId(id))) => id,
                    _ => return Err(KeyError::MissingCallId),
                };
                Ok(TransactionKey::Legacy(Box::new(LegacyKey {
                    request_uri: request.uri().map(|u| u.to_string()).unwrap_or_default(),
                    from_tag: from_tag(request),
                    to_tag: to_tag(request),
                    call_id,
                    cseq: seq,
                    method,
                    top_via: via.normalized(),
                })))
            }
        }
    }

    /// The key of the INVITE server transaction a received CANCEL targets (§9.2): the
    /// CANCEL's own key with INVITE as the method.
    pub fn cancel_target(cancel: &Message) -> Result<TransactionKey, KeyError> {
        if cancel.method() != Some(&Method::Cancel) {
            return Err(KeyError::NotACancel);
        }
        Ok(match TransactionKey::server_for_request(cancel)? {
            TransactionKey::Server {
                branch, sent_by, ..
            } => TransactionKey::Server {
                branch,
                sent_by,
                method: Method::Invite,
            },
            TransactionKey::Legacy(mut legacy) => {
                legacy.method = Method::Invite;
                TransactionKey::Legacy(legacy)
            }
            client @ TransactionKey::Client { .. } => client,
        })
    }

    /// True for a client transaction key.
    pub fn is_client(&self) -> bool {
        matches!(self, TransactionKey::Client { .. })
    }

    /// The method of the request that created the transaction.
    pub fn method(&self) -> &Method {
        match self {
            TransactionKey::Client { method, .. } | TransactionKey::Server { method, .. } => method,
            TransactionKey::Legacy(legacy) => &legacy.method,
        }
    }

    /// For an RFC 2543 key with a To tag, the same key without it: where an ACK that
    /// carries the tag of our response finds the INVITE that had none.
    pub(crate) fn without_to_tag(&self) -> Option<TransactionKey> {
        match self {
            TransactionKey::Legacy(legacy) if legacy.to_tag.is_some() => {
                let mut bare = legacy.clone();
                bare.to_tag = None;
                Some(TransactionKey::Legacy(bare))
            }
            _ => None,
        }
    }
}

impl fmt::Display for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransactionKey::Client { branch, method } => write!(f, "client {branch} {method}"),
            TransactionKey::Server {
                branch,
                sent_by,
                method,
            } => write!(f, "server {branch} {sent_by} {method}"),
            TransactionKey::Legacy(l) => write!(
                f,
                "server (rfc2543) {} {} {} {}",
                l.call_id, l.cseq, l.method, l.request_uri
            ),
        }
    }
}

/// The top Via of a message: what every key needs from it. The RFC 2543 forms (the value as
/// written, its normal form) are made only when asked for, since RFC 3261 peers never need
/// them.
pub(crate) struct TopVia {
    /// The typed value.
    via: Via,
    /// `host[:port]`, host lower-cased.
    pub(crate) sent_by: String,
    /// The `branch` parameter.
    pub(crate) branch: Option<String>,
}

impl TopVia {
    /// Reads the first value of the first Via field.
    pub(crate) fn of(message: &Message) -> Result<TopVia, KeyError> {
        let via = match message.header::<Via>() {
            None => return Err(KeyError::MissingVia),
            Some(Err(_)) => return Err(KeyError::MalformedVia),
            Some(Ok(via)) => via,
        };
        let mut sent_by = String::with_capacity(32);
        let _ = write!(sent_by, "{}", via.host);
        sent_by.make_ascii_lowercase();
        if let Some(port) = via.port {
            let _ = write!(sent_by, ":{port}");
        }
        let branch = via.branch().filter(|b| !b.is_empty()).map(str::to_string);
        Ok(TopVia {
            via,
            sent_by,
            branch,
        })
    }

    /// The value in normal form, lower-cased: what RFC 2543 matching compares.
    pub(crate) fn normalized(&self) -> String {
        self.via.to_value().to_ascii_lowercase()
    }

    /// The first value of the first Via field of `message`, unfolded and trimmed, as written.
    pub(crate) fn whole(message: &Message) -> Result<String, KeyError> {
        let value = message
            .get_str(&HeaderName::Via)
            .ok_or(KeyError::MissingVia)?;
        text::split_top_level(&value, b',')
            .next()
            .map(|v| text::trim_wsp(v).to_string())
            .ok_or(KeyError::MalformedVia)
    }
}

/// The CSeq number and method.
pub(crate) fn cseq(message: &Message) -> Result<(u32, Method), KeyError> {
    match message.header::<CSeq>() {
        None => Err(KeyError::MissingCSeq),
        Some(Err(_)) => Err(KeyError::MalformedCSeq),
        Some(Ok(CSeq { seq, method })) => Ok((seq, method)),
    }
}

/// The `tag` parameter of From or To; `None` also when the header is absent or malformed
/// (such a request still gets a key; the TU answers it as it sees fit).
pub(crate) fn from_tag(message: &Message) -> Option<String> {
    match message.header::<From>() {
        Some(Ok(from)) => from.tag().map(str::to_string),
        _ => None,
    }
}

/// The `tag` parameter of To, as [`from_tag`].
pub(crate) fn to_tag(message: &Message) -> Option<String> {
    match message.header::<To>() {
        Some(Ok(to)) => to.tag().map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::*;

    fn server(text: &str) -> Result<TransactionKey, KeyError> {
        TransactionKey::server_for_request(&parse(text))
    }

    #[test]
    fn client_keys_match_request_and_response() {
        let invite = invite();
        let key = TransactionKey::client_for_request(&invite).unwrap();
        // (response, matches the INVITE's client transaction?)
        let rows = [
            (invite_response(180), true),
            (invite_response(486), true),
            // §17.1.3: the CSeq method must match; a CANCEL reply has the same branch.
            (response(200, "CANCEL", "z9hG4bK776asdhds"), false),
            (response(200, "INVITE", "z9hG4bKother"), false),
        ];
        for (resp, want) in rows {
            let got = TransactionKey::client_for_response(&resp).unwrap() == key;
            assert_eq!(got, want, "{resp}");
        }
    }

    #[test]
    fn client_request_needs_a_cookie_branch() {
        assert_eq!(
            TransactionKey::client_for_request(&request("OPTIONS", "abc")),
            Err(KeyError::BranchWithoutCookie("abc".into()))
        );
    }

    #[test]
    fn server_ack_matches_its_invite_and_cancel_is_separate() {
        let invite = TransactionKey::server_for_request(&invite()).unwrap();
        let ack = TransactionKey::server_for_request(&ack("z9hG4bK776asdhds")).unwrap();
        assert_eq!(ack, invite);
        let cancel = request("CANCEL", "z9hG4bK776asdhds");
        let cancel_key = TransactionKey::server_for_request(&cancel).unwrap();
        assert_ne!(cancel_key, invite);
        assert_eq!(TransactionKey::cancel_target(&cancel).unwrap(), invite);
    }

    #[test]
    fn server_key_table() {
        let base = "Via: SIP/2.0/UDP PC33.Atlanta.example.com:5060;branch=z9hG4bKx\r\n";
        let rows: [(&str, Result<&str, KeyError>); 7] = [
            (base, Ok("server z9hG4bKx pc33.atlanta.example.com:5060 OPTIONS")),
            (
                "Via: SIP / 2.0 / UDP   pc33.atlanta.example.com:5060 ;branch=z9hG4bKx, SIP/2.0/TCP other\r\n",
                Ok("server z9hG4bKx pc33.atlanta.example.com:5060 OPTIONS"),
            ),
            (
                "Via: SIP/2.0/TCP [2001:DB8::1] : 5070;branch=z9hG4bKx\r\n",
                Ok("server z9hG4bKx [2001:db8::1]:5070 OPTIONS"),
            ),
            ("", Err(KeyError::MissingVia)),
            ("Via: SIP/2.0/UDP\r\n", Err(KeyError::MalformedVia)),
            ("Via: HTTP/1.1/UDP a;branch=z9hG4bKx\r\n", Err(KeyError::MalformedVia)),
            (
                "Via: SIP/2.0/UDP a;branch=1234\r\n",
                Ok("server (rfc2543) c1 7 OPTIONS sip:b@c"),
            ),
        ];
        for (via, want) in rows {
            let text = format!(
                "OPTIONS sip:b@c SIP/2.0\r\n{via}From: <sip:a@c>;tag=f\r\nTo: <sip:b@c>\r\nCall-ID: c1\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            );
            let got = server(&text).map(|k| k.to_string());
            assert_eq!(got, want.map(str::to_string), "{via}");
        }
    }

    #[test]
    fn cseq_must_match_the_request_method() {
        let text = "BYE sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            server(text),
            Err(KeyError::MethodMismatch {
                request: Method::Bye,
                cseq: Method::Invite
            })
        );
    }

    #[test]
    fn legacy_ack_finds_the_invite_without_to_tag() {
        let invite = invite().to_string().replace("z9hG4bK776asdhds", "old1");
        let ack = ack("old1");
        let invite_key = server(&invite).unwrap();
        let ack_key = TransactionKey::server_for_request(&ack).unwrap();
        assert_ne!(ack_key, invite_key, "the ACK carries our To tag");
        assert_eq!(ack_key.without_to_tag(), Some(invite_key));
    }

    #[test]
    fn tags_ignore_brackets_and_quotes() {
        let m = parse("OPTIONS sip:b@c SIP/2.0\r\nFrom: \"x;tag=no\" <sip:a@c;tag=no>;tag=yes\r\nTo: sip:b@c;tag=t2\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(from_tag(&m).as_deref(), Some("yes"));
        assert_eq!(to_tag(&m).as_deref(), Some("t2"));
    }
}
