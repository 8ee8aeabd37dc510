//! The notifier side of one RFC 6665 subscription: the dialog a SUBSCRIBE formed (§4.2.1),
//! its expiry and refreshes (§4.2.1.2), NOTIFYs with `Subscription-State` (§4.2.2,
//! §8.2.3), and the rate limit RFC 6910 §9.11 sets for `call-completion` (at most three
//! NOTIFYs in ten seconds).
//!
//! Sans-IO: the time comes in, messages go out through [`Transactions`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use callcomp_sip::builder;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::subscription_state::SubscriptionState;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;

use crate::b2bua::dialog::Dialog;
use crate::core::transactions::Transactions;
use crate::transport::Target;

/// How many NOTIFYs a subscription may send within [`RATE_WINDOW`].
pub const RATE_MAX: usize = 3;
/// The window of the rate limit.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// The `Expires` a SUBSCRIBE asks for, RFC 6910 §9.4's default when it has none; `None` when
/// the header is present but not a number.
pub fn requested_expires(request: &Message, default: Duration) -> Option<Duration> {
    match request.get_str(&HeaderName::Expires) {
        None => Some(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .map(|s| Duration::from_secs(u64::from(s))),
    }
}

/// One subscription as its notifier holds it.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// The dialog the SUBSCRIBE formed (we are its UAS).
    pub dialog: Dialog,
    /// The event package, for the `Event` of every NOTIFY.
    pub event: String,
    /// When the subscription ends unless refreshed.
    pub expires_at: Instant,
    /// When the last NOTIFYs went out, oldest first (at most [`RATE_MAX`] kept).
    sent: VecDeque<Instant>,
}

impl Notifier {
    /// The subscription a SUBSCRIBE from `source` forms, with our tag `local_tag`, granted
    /// for `granted`; `None` when the request cannot form a dialog (no From tag).
    pub fn accept(
        request: &Message,
        local_tag: &str,
        source: Target,
        event: &str,
        granted: Duration,
        now: Instant,
    ) -> Option<Notifier> {
        let dialog = Dialog::as_uas(request, local_tag, source)?;
        Some(Notifier {
            dialog,
            event: event.to_owned(),
            expires_at: now + granted,
            sent: VecDeque::new(),
        })
    }

    /// The dialog's key: Call-ID and our tag (the To tag of in-dialog requests).
    pub fn key(&self) -> (String, String) {
        (self.dialog.call_id.clone(), self.dialog.local_tag.clone())
    }

    /// The 2xx for a SUBSCRIBE of this subscription: `Expires` with the granted time,
    /// our Contact (it forms the dialog), and the packages we serve.
    pub fn ok(&self, request: &Message, sip: &Transactions, now: Instant) -> Message {
        let mut response = builder::response(request, 200, None, &self.dialog.local_tag);
        response.push_raw(HeaderName::Expires, self.remaining(now).to_string());
        response.push_raw(HeaderName::Contact, sip.contact(self.dialog.target.proto));
        response.push_raw(HeaderName::AllowEvents, super::ALLOW_EVENTS.join(", "));
        response
    }

    /// A refresh granted for `granted` from `now`; the peer's Contact may have moved.
    pub fn refresh(&mut self, request: &Message, granted: Duration, now: Instant) {
        self.dialog.refresh_target(request);
        self.expires_at = now + granted;
    }

    /// Seconds left, rounded down.
    pub fn remaining(&self, now: Instant) -> u32 {
        let left = self.expires_at.saturating_duration_since(now).as_secs();
        u32::try_from(left).unwrap_or(u32::MAX)
    }

    /// When the next NOTIFY may go out under the rate limit; with `keep_one`, one slot of
    /// the window is kept free (RFC 6910 §9.11: `ready` must not be the third, so that a
    /// prompt `queued` can still follow).
    pub fn next_slot(&self, now: Instant, keep_one: bool) -> Instant {
        let limit = if keep_one { RATE_MAX - 1 } else { RATE_MAX };
        let recent: Vec<Instant> = self
            .sent
            .iter()
            .copied()
            .filter(|t| *t + RATE_WINDOW > now)
            .collect();
        if recent.len() < limit {
            return now;
        }
        // The slot frees when the oldest NOTIFY that still counts leaves the window.
        recent[recent.len() - limit] + RATE_WINDOW
    }

    /// Sends a NOTIFY in the dialog with `state` and, if any, a body of `content_type`,
    /// recording it for the rate limit; the client transaction's key, if it started.
    pub fn notify(
        &mut self,
        sip: &mut Transactions,
        state: &SubscriptionState,
        body: Option<(&str, Vec<u8>)>,
        now: Instant,
    ) -> Option<callcomp_sip::transaction::TransactionKey> {
        let mut notify = self.dialog.request(Method::Notify, sip);
        notify.push_raw(HeaderName::Event, self.event.clone());
        notify.push(state);
        notify.push_raw(HeaderName::Contact, sip.contact(self.dialog.target.proto));
        if let Some((content_type, bytes)) = body {
            notify.push_raw(HeaderName::ContentType, content_type.to_owned());
            notify.set_body(bytes);
        }
        self.sent.push_back(now);
        while self.sent.len() > RATE_MAX {
            self.sent.pop_front();
        }
        sip.request(notify, self.dialog.target, now)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use callcomp_sip::parse::Limits;
    use callcomp_sip::transaction::TimerConfig;

    use super::*;
    use crate::transport::Proto;

    const SUBSCRIBE: &str = "SUBSCRIBE sip:cc@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bKs1\r\nMax-Forwards: 70\r\n\
        From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n\
        Call-ID: sub-1\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:alice@192.0.2.1:5061>\r\n\
        Event: call-completion\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n";

    fn target() -> Target {
        Target {
            proto: Proto::Udp,
            remote: "192.0.2.1:5061".parse::<SocketAddr>().unwrap(),
            conn: None,
        }
    }

    fn subscribe() -> Message {
        Message::parse_datagram(SUBSCRIBE.as_bytes(), &Limits::default()).unwrap()
    }

    #[test]
    fn expires_defaults_and_refuses_garbage() {
        let d = Duration::from_secs(3600);
        assert_eq!(
            requested_expires(&subscribe(), d),
            Some(Duration::from_secs(600))
        );
        let mut m = subscribe();
        m.remove(&HeaderName::Expires);
        assert_eq!(requested_expires(&m, d), Some(d));
        m.push_raw(HeaderName::Expires, "soon");
        assert_eq!(requested_expires(&m, d), None);
    }

    #[test]
    fn accept_forms_the_dialog_and_the_200_grants_the_time() {
        let now = Instant::now();
        let sip = Transactions::new(TimerConfig::default(), "192.0.2.100:5060".parse().unwrap());
        let n = Notifier::accept(
            &subscribe(),
            "t9",
            target(),
            "call-completion",
            Duration::from_secs(600),
            now,
        )
        .unwrap();
        assert_eq!(n.key(), ("sub-1".to_owned(), "t9".to_owned()));
        assert_eq!(n.dialog.remote_tag, "a1");
        let ok = n.ok(&subscribe(), &sip, now + Duration::from_secs(10));
        assert_eq!(ok.status(), Some(200));
        assert_eq!(ok.get_str(&HeaderName::Expires).unwrap(), "590");
        assert_eq!(
            ok.get_str(&HeaderName::AllowEvents).unwrap(),
            "call-completion"
        );
        assert!(ok.get_str(&HeaderName::To).unwrap().contains("tag=t9"));
        assert!(ok.get_str(&HeaderName::Contact).is_some());
    }

    #[test]
    fn notify_goes_in_the_dialog_and_the_rate_limit_holds_the_fourth() {
        let now = Instant::now();
        let mut sip =
            Transactions::new(TimerConfig::default(), "192.0.2.100:5060".parse().unwrap());
        let mut n = Notifier::accept(
            &subscribe(),
            "t9",
            target(),
            "call-completion",
            Duration::from_secs(600),
            now,
        )
        .unwrap();
        assert_eq!(n.next_slot(now, false), now);
        for i in 0..3u64 {
            let at = now + Duration::from_secs(i);
            assert_eq!(n.next_slot(at, false), at, "NOTIFY {i} may go at once");
            let state = SubscriptionState::active(n.remaining(at));
            assert!(n
                .notify(&mut sip, &state, Some(("text/plain", b"x".to_vec())), at)
                .is_some());
        }
        let later = now + Duration::from_secs(3);
        // Three in the window: the fourth waits until the first leaves it.
        assert_eq!(n.next_slot(later, false), now + RATE_WINDOW);
        // Keeping a slot free: after two, a `ready` already waits.
        assert_eq!(
            n.next_slot(later, true),
            now + Duration::from_secs(1) + RATE_WINDOW
        );
        let out = sip.drain();
        assert_eq!(out.len(), 3);
        let first = Message::parse_datagram(&out[0].bytes, &Limits::default()).unwrap();
        assert_eq!(first.method(), Some(&Method::Notify));
        assert_eq!(first.get_str(&HeaderName::CallId).unwrap(), "sub-1");
        assert!(first.get_str(&HeaderName::From).unwrap().contains("tag=t9"));
        assert!(first.get_str(&HeaderName::To).unwrap().contains("tag=a1"));
        assert_eq!(
            first.get_str(&HeaderName::Event).unwrap(),
            "call-completion"
        );
        assert_eq!(
            first.get_str(&HeaderName::SubscriptionState).unwrap(),
            "active;expires=600"
        );
        assert_eq!(first.uri().unwrap().to_string(), "sip:alice@192.0.2.1:5061");
    }
}
