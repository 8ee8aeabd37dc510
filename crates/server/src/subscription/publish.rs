//! Suspend and resume by PUBLISH (RFC 6910 §6.5-§6.6, §7.5-§7.6; RFC 3903): a caller's agent
//! that cannot take the recall publishes PIDF `<basic>closed</basic>` for its request, and
//! `open` to resume it.
//!
//! [`read`] turns a PUBLISH into what it asks ([`Publication`]) or the answer refusing it;
//! [`Etags`] keeps the entity tags (RFC 3903 §4) so that refreshes and removals name the
//! state they refer to. Lenient where interop needs it (anchors §b): `Event: presence` (the
//! RFC §8 example) and `Event: call-completion` (what Asterisk sent) are both accepted.
//! Removing the published state (`Expires: 0`) resumes, since a request with no published
//! state is available (RFC 6910 §5).
//!
//! Published state lasts as long as the PUBLISH's `Expires` said (RFC 3903 §6 step 7): when
//! it runs out unrefreshed its entity tag is gone (a refresh naming it gets 412) and, if it
//! was `closed`, the request resumes, as on a removal.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use callcomp_sip::body::pidf::{self, Basic, Pidf};
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::etag::SipIfMatch;
use callcomp_sip::headers::event::Event;
use callcomp_sip::message::Message;
use callcomp_switch::CompletionId;

/// The event packages a suspend/resume PUBLISH may name.
pub const EVENTS: &[&str] = &["call-completion", "presence"];

/// How long published state lasts when the PUBLISH gives no `Expires`.
pub const DEFAULT_EXPIRES: Duration = Duration::from_secs(3600);

/// What a PUBLISH asks for the request it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// `closed`: suspend the request.
    Suspend,
    /// `open`, or the published state removed: resume it.
    Resume,
    /// A refresh with no body: the state stays as it is.
    Refresh,
}

/// A PUBLISH read: what it asks, for how long, and the entity tag it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The ask.
    pub ask: Ask,
    /// The `Expires` (0 for a removal).
    pub expires: Duration,
    /// The `SIP-If-Match`, for a refresh, modification or removal.
    pub if_match: Option<String>,
}

/// Why a PUBLISH is refused, as its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No `Event`, or a package other than [`EVENTS`]: 489 (RFC 6665 §8.3.1).
    #[error("Bad Event")]
    BadEvent,
    /// A body that is not PIDF: 415.
    #[error("Unsupported Media Type")]
    MediaType,
    /// A PIDF that does not parse, or has no `<basic>`: 400 with the reason.
    #[error("Bad PIDF: {0}")]
    Body(String),
    /// An `Expires` that is not a number: 400.
    #[error("Bad Expires")]
    Expires,
    /// A refresh or removal without `SIP-If-Match`, or naming a tag we did not issue for
    /// this request: 412 (RFC 3903 §6 step 4).
    #[error("Conditional Request Failed")]
    Condition,
}

impl Refusal {
    /// The status code of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadEvent => 489,
            Refusal::MediaType => 415,
            Refusal::Body(_) | Refusal::Expires => 400,
            Refusal::Condition => 412,
        }
    }
}

/// Reads a suspend/resume PUBLISH.
pub fn read(request: &Message) -> Result<Publication, Refusal> {
    let event = request
        .header::<Event>()
        .and_then(Result::ok)
        .ok_or(Refusal::BadEvent)?;
    if !EVENTS.iter().any(|e| event.package.eq_ignore_ascii_case(e)) {
        return Err(Refusal::BadEvent);
    }
    let expires =
        super::notifier::requested_expires(request, DEFAULT_EXPIRES).ok_or(Refusal::Expires)?;
    let if_match = request
        .header::<SipIfMatch>()
        .and_then(Result::ok)
        .map(|t| t.0);
    let ask = if expires.is_zero() {
        Ask::Resume
    } else if request.body().is_empty() {
        Ask::Refresh
    } else {
        let is_pidf = request.get_str(&HeaderName::ContentType).is_some_and(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case(pidf::CONTENT_TYPE))
        });
        if !is_pidf {
            return Err(Refusal::MediaType);
        }
        let doc = Pidf::parse(request.body()).map_err(|e| Refusal::Body(e.to_string()))?;
        match doc.basic() {
            Some(Basic::Closed) => Ask::Suspend,
            Some(Basic::Open) => Ask::Resume,
            None => return Err(Refusal::Body("no <basic> status".to_owned())),
        }
    };
    // Refreshes and removals refer to published state (RFC 3903 §6).
    if (ask == Ask::Refresh || expires.is_zero()) && if_match.is_none() {
        return Err(Refusal::Condition);
    }
    Ok(Publication {
        ask,
        expires,
        if_match,
    })
}

/// The state a PUBLISH left for its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// `closed`: the request is suspended while this lasts.
    Closed,
    /// `open`.
    Open,
}

/// One entity tag: the request it is for, the state it carries, when it runs out.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: CompletionId,
    state: Published,
    expires_at: Instant,
}

/// The entity tags issued, each for one request (one per request), and when each runs out.
#[derive(Debug, Default)]
pub struct Etags {
    tags: HashMap<String, Entry>,
    /// The tag of each request.
    by_request: HashMap<CompletionId, String>,
    expiries: BTreeSet<(Instant, String)>,
    next: u64,
}

impl Etags {
    /// No tag.
    pub fn new() -> Etags {
        Etags::default()
    }

    /// Whether `tag` was issued for request `id` (and has not run out).
    pub fn matches(&self, tag: &str, id: CompletionId) -> bool {
        self.tags.get(tag).is_some_and(|e| e.id == id)
    }

    /// The state `tag` carries.
    pub fn state_of(&self, tag: &str) -> Option<Published> {
        self.tags.get(tag).map(|e| e.state)
    }

    /// A new tag for request `id` carrying `state` until `expires_at`, replacing `old` and
    /// any earlier tag of the request (RFC 3903 §6: every successful PUBLISH gets a fresh
    /// tag; one entity tag per request: an initial PUBLISH replaces the earlier one).
    pub fn issue(
        &mut self,
        id: CompletionId,
        old: Option<&str>,
        state: Published,
        expires_at: Instant,
    ) -> String {
        if let Some(old) = old {
            self.remove(old);
        }
        if let Some(earlier) = self.by_request.get(&id).cloned() {
            self.remove(&earlier);
        }
        self.next += 1;
        let tag = format!("cc{id}x{}", self.next);
        self.tags.insert(
            tag.clone(),
            Entry {
                id,
                state,
                expires_at,
            },
        );
        self.by_request.insert(id, tag.clone());
        self.expiries.insert((expires_at, tag.clone()));
        tag
    }

    /// Forgets `tag` (a removal).
    pub fn remove(&mut self, tag: &str) {
        if let Some(entry) = self.tags.remove(tag) {
            self.expiries.remove(&(entry.expires_at, tag.to_owned()));
            if self.by_request.get(&entry.id).is_some_and(|t| t == tag) {
                self.by_request.remove(&entry.id);
            }
        }
    }

    /// Forgets the tag of request `id` (it ended).
    pub fn forget(&mut self, id: CompletionId) {
        if let Some(tag) = self.by_request.get(&id).cloned() {
            self.remove(&tag);
        }
    }

    /// How many tags are live.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// Whether no tag is live.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// When the next tag runs out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// Forgets the tags run out at `now`; the requests whose `closed` state ran out with
    /// them (to resume).
    pub fn expire(&mut self, now: Instant) -> Vec<CompletionId> {
        let mut resume = Vec::new();
        while let Some((at, tag)) = self.expiries.first().cloned() {
            if at > now {
                break;
            }
            if let Some(entry) = self.tags.get(&tag).copied() {
                self.remove(&tag);
                if entry.state == Published::Closed {
                    resume.push(entry.id);
                }
            } else {
                self.expiries.remove(&(at, tag));
            }
        }
        resume
    }
}

#[cfg(test)]
mod tests {
    use callcomp_sip::parse::Limits;

    use super::*;

    fn publish(event: &str, extra: &str, body: &str) -> Message {
        let text = format!(
            "PUBLISH sip:cc-7@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bKp1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=p1\r\nTo: <sip:cc-7@example.com>\r\n\
             Call-ID: pub-1\r\nCSeq: 1 PUBLISH\r\nEvent: {event}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
    }

    fn pidf_of(basic: Basic) -> String {
        String::from_utf8(Pidf::with_basic("sip:alice@example.com", basic).to_bytes()).unwrap()
    }

    const PIDF: &str = "Content-Type: application/pidf+xml\r\nExpires: 2400\r\n";

    /// RFC 6910 §8 (message 5b): suspend with `Event: presence`, and the same with
    /// `call-completion`; resume with `open`.
    #[test]
    fn closed_suspends_and_open_resumes_under_either_event() {
        for event in ["presence", "call-completion", "Call-Completion"] {
            let p = read(&publish(event, PIDF, &pidf_of(Basic::Closed))).unwrap();
            assert_eq!(p.ask, Ask::Suspend, "{event}");
            assert_eq!(p.expires, Duration::from_secs(2400));
            assert_eq!(p.if_match, None);
        }
        let p = read(&publish("presence", PIDF, &pidf_of(Basic::Open))).unwrap();
        assert_eq!(p.ask, Ask::Resume);
    }

    #[test]
    fn refreshes_and_removals_need_an_etag() {
        let refresh = publish("presence", "Expires: 600\r\n", "");
        assert_eq!(read(&refresh), Err(Refusal::Condition));
        let refresh = publish("presence", "Expires: 600\r\nSIP-If-Match: cc7x1\r\n", "");
        let p = read(&refresh).unwrap();
        assert_eq!(
            (p.ask, p.if_match.as_deref()),
            (Ask::Refresh, Some("cc7x1"))
        );
        let removal = publish("presence", "Expires: 0\r\nSIP-If-Match: cc7x1\r\n", "");
        assert_eq!(read(&removal).unwrap().ask, Ask::Resume);
        assert_eq!(
            read(&publish("presence", "Expires: 0\r\n", "")),
            Err(Refusal::Condition)
        );
    }

    #[test]
    fn refusals_have_their_status() {
        let cases = [
            (publish("dialog", PIDF, &pidf_of(Basic::Closed)), 489),
            (
                publish("presence", "Content-Type: text/plain\r\n", "closed"),
                415,
            ),
            (publish("presence", PIDF, "<presence"), 400),
            (publish("presence", "Expires: soon\r\n", ""), 400),
        ];
        for (m, status) in cases {
            assert_eq!(read(&m).unwrap_err().status(), status);
        }
        let no_basic = "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@b\"><tuple id=\"t\"/></presence>";
        assert!(matches!(
            read(&publish("presence", PIDF, no_basic)),
            Err(Refusal::Body(_))
        ));
    }

    #[test]
    fn etags_belong_to_one_request_and_are_replaced() {
        let (a, b) = (CompletionId::new(1).unwrap(), CompletionId::new(2).unwrap());
        let at = Instant::now() + DEFAULT_EXPIRES;
        let mut tags = Etags::new();
        let t1 = tags.issue(a, None, Published::Closed, at);
        assert!(tags.matches(&t1, a));
        assert!(!tags.matches(&t1, b));
        let t2 = tags.issue(a, Some(&t1), Published::Closed, at);
        assert_ne!(t1, t2);
        assert!(!tags.matches(&t1, a), "the old tag is gone");
        let t3 = tags.issue(a, None, Published::Open, at);
        assert!(!tags.matches(&t2, a), "an initial PUBLISH replaces the tag");
        assert_eq!(tags.state_of(&t3), Some(Published::Open));
        tags.forget(a);
        assert!(!tags.matches(&t3, a));
        assert!(tags.is_empty());
        assert_eq!(tags.poll_timeout(), None, "no expiry left behind");
    }

    #[test]
    fn tags_run_out_and_a_closed_one_asks_to_resume() {
        let (a, b) = (CompletionId::new(1).unwrap(), CompletionId::new(2).unwrap());
        let now = Instant::now();
        let mut tags = Etags::new();
        let closed = tags.issue(a, None, Published::Closed, now + Duration::from_secs(60));
        let open = tags.issue(b, None, Published::Open, now + Duration::from_secs(30));
        assert_eq!(tags.poll_timeout(), Some(now + Duration::from_secs(30)));
        assert_eq!(tags.expire(now + Duration::from_secs(29)), []);
        assert_eq!(
            tags.expire(now + Duration::from_secs(30)),
            [],
            "open: nothing to resume"
        );
        assert!(!tags.matches(&open, b));
        assert!(tags.matches(&closed, a));
        assert_eq!(tags.expire(now + Duration::from_secs(60)), [a]);
        assert!(!tags.matches(&closed, a));
        assert!(tags.is_empty());
    }
}
