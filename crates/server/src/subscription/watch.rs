//! RFC 4235 dialog-state watching (DESIGN §2.3), the subscriber side of RFC 6665: when a
//! callee's phone said busy while callcomp knows no call of it (do-not-disturb, a call
//! elsewhere), callcomp subscribes to the phone's dialog state (`SUBSCRIBE`, `Event: dialog`).
//! A NOTIFY whose `application/dialog-info+xml` body shows no `confirmed` dialog tells the
//! engine the callee is idle (`CalleeDialogIdle`). A phone that refuses the subscription (or
//! never answers) leaves the request's availability `unknown`: it then waits for the callee's
//! next call through callcomp, as before. A NOTIFY is believed only from one of the callee's
//! phones (a forged "idle" would ring the waiting caller back).
//!
//! The watch is its own job with its own transactions and timers, not a guest of the B2BUA:
//! the 2xx forms the subscription's dialog (RFC 6665 §4.1.2.1), a refresh goes out in that
//! dialog before the granted time runs out (§4.1.2.2), and once the phone reported the callee
//! idle the watch has done its work and unsubscribes (`Expires: 0`, §4.1.2.3), answering the
//! final NOTIFY. A watch no request needs any more (every request on the callee ended, or
//! its availability is known) unsubscribes at its 2xx or at its next refresh.
//!
//! Nothing outlives its use: a watch is forgotten when its SUBSCRIBE is refused or
//! unanswered, when its 2xx forms no dialog (nothing to refresh or end it in) or grants no
//! time, when a refresh cannot be sent or fails, and when an unsubscribe's final NOTIFY has
//! not come [`FINAL_NOTIFY_WAIT`] after its 2xx.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use callcomp_sip::builder;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::numbers::MaxForwards;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::transaction::TransactionKey;
use callcomp_switch::{Availability, CompletionFact};

use super::subscriber::{granted, in_dialog, refresh_at, with_event};
use crate::b2bua::dialog::Dialog;
use crate::b2bua::Ctx;
use crate::identity;
use crate::transport::Target;

/// The event package watched, and the bodies it asks for.
const DIALOG: &str = "dialog";
const DIALOG_INFO: &str = "application/dialog-info+xml";

/// How long a dialog subscription is asked for (and refreshed for).
pub const WATCH_EXPIRES: Duration = Duration::from_secs(3_600);

/// How long an unsubscribed watch waits for the final NOTIFY after the unsubscribe's 2xx
/// before it is forgotten (64·T1, the longest a transaction takes).
pub const FINAL_NOTIFY_WAIT: Duration = Duration::from_secs(32);

/// One watch of one phone of a callee.
#[derive(Debug)]
struct Watch {
    /// The callee watched.
    callee: String,
    /// The SUBSCRIBE that started it, for the dialog its 2xx forms.
    subscribe: Message,
    /// Where the phone is.
    target: Target,
    /// The subscription's dialog, once a 2xx came.
    dialog: Option<Dialog>,
    /// Unsubscribed: only the final NOTIFY is still expected.
    ending: bool,
}

/// The dialog watches, by subscription Call-ID, their transactions in flight and their
/// refresh timers.
#[derive(Debug, Default)]
pub struct Watches {
    watches: HashMap<String, Watch>,
    clients: HashMap<TransactionKey, String>,
    timers: BTreeSet<(Instant, String)>,
}

impl Watches {
    /// No watch.
    pub fn new() -> Watches {
        Watches::default()
    }

    /// Whether `callee`'s phones are being watched.
    pub fn watching(&self, callee: &str) -> bool {
        self.watches
            .values()
            .any(|w| w.callee == callee && !w.ending)
    }

    /// When [`Watches::on_timer`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Subscribes to the dialog state of every phone of `callee` (once per callee).
    pub fn watch_dialogs(&mut self, cx: &mut Ctx<'_>, callee: &str) {
        if self.watching(callee) {
            return;
        }
        for d in cx.destinations(callee) {
            let call_id = cx.sip.call_id();
            let mut subscribe = Message::new_request(Method::Subscribe, d.uri.clone());
            subscribe.push(&cx.sip.via(d.target.proto));
            subscribe.push(&MaxForwards(70));
            subscribe.push_raw(
                HeaderName::From,
                format!("<sip:cc@{}>;tag={}", cx.config.domain, cx.sip.tag()),
            );
            subscribe.push_raw(HeaderName::To, format!("<{}>", cx.aor(callee)));
            subscribe.push_raw(HeaderName::CallId, call_id.clone());
            subscribe.push(&CSeq::new(1, Method::Subscribe));
            subscribe.push_raw(HeaderName::Contact, cx.sip.contact(d.target.proto));
            with_event(&mut subscribe, DIALOG, DIALOG_INFO, WATCH_EXPIRES);
            let sent = subscribe.clone();
            if let Some(key) = cx.sip.request(subscribe, d.target, cx.now.instant) {
                tracing::debug!(callee, "watching the callee's dialog state (RFC 4235)");
                self.clients.insert(key, call_id.clone());
                self.watches.insert(
                    call_id,
                    Watch {
                        callee: callee.to_owned(),
                        subscribe: sent,
                        target: d.target,
                        dialog: None,
                        ending: false,
                    },
                );
            }
        }
    }

    /// Whether `key` is one of the watch's SUBSCRIBE transactions.
    pub fn owns(&self, key: &TransactionKey) -> bool {
        self.clients.contains_key(key)
    }

    /// The phone's answer to a SUBSCRIBE: a 2xx forms (or keeps) the dialog and arms the
    /// refresh at the granted time (or unsubscribes, when no request needs the watch any
    /// more); a 2xx to an unsubscribe leaves [`FINAL_NOTIFY_WAIT`] for the final NOTIFY; a
    /// refusal, or a 2xx that forms no dialog or grants no time, ends the watch.
    pub fn response(&mut self, cx: &mut Ctx<'_>, key: &TransactionKey, response: &Message) {
        let status = response.status().unwrap_or(0);
        if status < 200 {
            return;
        }
        let Some(call_id) = self.clients.remove(key) else {
            return;
        };
        if status >= 300 {
            if let Some(w) = self.watches.get(&call_id) {
                tracing::debug!(
                    callee = w.callee,
                    "dialog subscription refused; availability stays unknown"
                );
            }
            self.forget(&call_id);
            return;
        }
        let Some(w) = self.watches.get_mut(&call_id) else {
            return;
        };
        let now = cx.now.instant;
        self.timers.retain(|(_, c)| *c != call_id);
        if w.ending {
            self.timers.insert((now + FINAL_NOTIFY_WAIT, call_id));
            return;
        }
        if w.dialog.is_none() {
            w.dialog = Dialog::as_uac(&w.subscribe, response, w.target);
        }
        let granted = granted(response, WATCH_EXPIRES);
        if w.dialog.is_none() || granted.is_zero() {
            tracing::debug!(
                callee = w.callee,
                "dialog subscription formed no dialog or got no time; the watch ends"
            );
            self.forget(&call_id);
            return;
        }
        if !needed(cx, &w.callee) {
            self.unsubscribe(cx, &call_id);
            return;
        }
        self.timers.insert((refresh_at(now, granted), call_id));
    }

    /// The SUBSCRIBE got no answer: the watch is over.
    pub fn timed_out(&mut self, key: &TransactionKey) {
        if let Some(call_id) = self.clients.remove(key) {
            self.forget(&call_id);
        }
    }

    /// Refreshes the subscriptions whose time is nearly up (or unsubscribes those no request
    /// needs any more), and forgets the unsubscribed ones whose final NOTIFY did not come.
    pub fn on_timer(&mut self, cx: &mut Ctx<'_>) {
        while let Some((at, call_id)) = self.timers.first().cloned() {
            if at > cx.now.instant {
                break;
            }
            self.timers.remove(&(at, call_id.clone()));
            let Some(w) = self.watches.get(&call_id) else {
                continue;
            };
            if w.ending {
                self.forget(&call_id);
            } else if !needed(cx, &w.callee) {
                self.unsubscribe(cx, &call_id);
            } else if !self.resubscribe(cx, &call_id, WATCH_EXPIRES) {
                self.forget(&call_id);
            }
        }
    }

    /// Ends the watch in its dialog (`Expires: 0`); the final NOTIFY is still answered. A
    /// watch that cannot send it is forgotten.
    fn unsubscribe(&mut self, cx: &mut Ctx<'_>, call_id: &str) {
        self.timers.retain(|(_, c)| c != call_id);
        if !self.resubscribe(cx, call_id, Duration::ZERO) {
            self.forget(call_id);
            return;
        }
        if let Some(w) = self.watches.get_mut(call_id) {
            w.ending = true;
        }
    }

    /// Forgets a watch, its timer and its transactions in flight.
    fn forget(&mut self, call_id: &str) {
        self.watches.remove(call_id);
        self.timers.retain(|(_, c)| c != call_id);
        self.clients.retain(|_, c| c != call_id);
    }

    /// How many watches are kept (ending ones included).
    pub fn len(&self) -> usize {
        self.watches.len()
    }

    /// Whether no watch is kept.
    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// A SUBSCRIBE in the watch's dialog asking for `expires` (0: unsubscribe); whether it
    /// went.
    fn resubscribe(&mut self, cx: &mut Ctx<'_>, call_id: &str, expires: Duration) -> bool {
        let Some(dialog) = self
            .watches
            .get_mut(call_id)
            .and_then(|w| w.dialog.as_mut())
        else {
            return false;
        };
        let subscribe = in_dialog(dialog, cx.sip, DIALOG, DIALOG_INFO, expires);
        let target = dialog.target;
        let Some(key) = cx.sip.request(subscribe, target, cx.now.instant) else {
            return false;
        };
        self.clients.insert(key, call_id.to_owned());
        true
    }

    /// Whether a NOTIFY with this Call-ID belongs to a watch.
    pub fn is_watch(&self, call_id: &str) -> bool {
        self.watches.contains_key(call_id)
    }

    /// A NOTIFY of a watch from `source`: 200, and, when the body shows no confirmed dialog,
    /// the callee is idle and the watch unsubscribes. A `terminated` subscription ends the
    /// watch. A NOTIFY that does not come from one of the callee's phones gets 403 and
    /// changes nothing.
    pub fn notify(
        &mut self,
        cx: &mut Ctx<'_>,
        key: TransactionKey,
        request: &Message,
        source: Target,
    ) {
        let call_id = request
            .get_str(&HeaderName::CallId)
            .map(|c| c.into_owned())
            .unwrap_or_default();
        let Some((callee, ending)) = self
            .watches
            .get(&call_id)
            .map(|w| (w.callee.clone(), w.ending))
        else {
            let response = builder::response(request, 481, None, "");
            cx.sip.respond(&key, response, cx.now.instant);
            return;
        };
        let from_phone = cx
            .destinations(&callee)
            .iter()
            .any(|d| identity::from_dialog_peer(source, d.target, &d.uri));
        if !from_phone {
            tracing::debug!(remote = %source.remote, callee, "dialog NOTIFY not from the callee's phone");
            let response = builder::response(request, 403, Some("Not from the dialog's peer"), "");
            cx.sip.respond(&key, response, cx.now.instant);
            return;
        }
        let response = builder::response(request, 200, None, "");
        cx.sip.respond(&key, response, cx.now.instant);
        let ended = request
            .get_str(&HeaderName::SubscriptionState)
            .is_some_and(|s| {
                s.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("terminated")
            });
        if ended {
            self.forget(&call_id);
            return;
        }
        if ending {
            return;
        }
        let body = String::from_utf8_lossy(request.body());
        let is_dialog_info = request.get_str(&HeaderName::ContentType).is_some_and(|t| {
            t.to_ascii_lowercase()
                .contains("application/dialog-info+xml")
        });
        if is_dialog_info && !has_confirmed_dialog(&body) {
            tracing::debug!(callee, "the callee's phone reports no confirmed dialog");
            cx.completion_fact(CompletionFact::CalleeDialogIdle { line: callee });
            // Its work is done: unsubscribe, and answer the final NOTIFY when it comes.
            self.unsubscribe(cx, &call_id);
        }
    }
}

/// Whether a request waiting on `callee` still needs its dialog state: one that queues and
/// whose callee's availability is unknown (the condition the watch started on).
pub fn needed(cx: &Ctx<'_>, callee: &str) -> bool {
    cx.switch
        .completions_for(callee)
        .iter()
        .any(|r| r.availability() == Availability::Unknown && r.mode.queues())
}

/// Whether a dialog-info document (RFC 4235 §4) shows a dialog in state `confirmed`.
///
/// A light reading, enough for the question asked: the text of every `<state>` element.
pub fn has_confirmed_dialog(body: &str) -> bool {
    let mut rest = body;
    while let Some(at) = rest.find("<state") {
        let after = &rest[at + "<state".len()..];
        let Some(close) = after.find('>') else {
            return false;
        };
        let content = &after[close + 1..];
        let text = content.split('<').next().unwrap_or_default();
        if text.trim().eq_ignore_ascii_case("confirmed") {
            return true;
        }
        rest = content;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4235 §5 examples, reduced.
    #[test]
    fn confirmed_dialogs_are_found() {
        let idle = r#"<?xml version="1.0"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:bob@example.com"/>"#;
        let terminated = r#"<dialog-info version="1" state="partial" entity="sip:bob@example.com"><dialog id="as7d900as8"><state event="remote-bye">terminated</state></dialog></dialog-info>"#;
        let confirmed = r#"<dialog-info version="2" state="full" entity="sip:bob@example.com"><dialog id="x" direction="initiator"><state>confirmed</state></dialog></dialog-info>"#;
        let early =
            r#"<dialog-info><dialog id="y"><state code="180">early</state></dialog></dialog-info>"#;
        for (body, want) in [
            (idle, false),
            (terminated, false),
            (confirmed, true),
            (early, false),
            ("", false),
            ("<state", false),
        ] {
            assert_eq!(has_confirmed_dialog(body), want, "{body}");
        }
    }
}
