//! The RFC 6910 agent role (§5, §6) toward another server's monitor, for one completion
//! request of a local user whose call went out over a trunk and failed with the remote
//! monitor's offer (issue #11 item 4). Sans-IO: [`RemoteRequest::handle`] takes what happened
//! and returns what the core must do; this file sends nothing and keeps no clock.
//!
//! **The non-local target.** The request's target is the remote party as dialled, its AOR
//! `sip:user@<trunk domain>` ([`RemoteRequest::target`]), never a local line name: it cannot
//! collide with a line, and it is what the remote monitor's subscription names in `To`
//! (§6.2: To is the original destination). The monitor URI is the offer's Call-Info URI.
//!
//! | state | input | next | actions |
//! |---|---|---|---|
//! | `Subscribing` | 2xx | `Queued` | report `queued` |
//! | `Subscribing` | final non-2xx, timeout | `Ended(Refused)` | report `ended` |
//! | any live | NOTIFY `cc-state: queued` | `Queued` (the `cc-URI` kept) | report `queued` when it changed |
//! | `Queued` | NOTIFY `cc-state: ready` | `Recalling` | recall the own user |
//! | `Recalling` | recall answered | `CcCall` | place the CC call to the `cc-URI` (with `Call-Info`) |
//! | `Recalling` | recall failed (user busy, no answer) | `Suspended` | PUBLISH `closed` (§6.5) |
//! | `Suspended` | the own user is free | `Queued` | PUBLISH `open` (§6.6) |
//! | `CcCall` | CC call answered | `Ended(Completed)` | report `completed` |
//! | `CcCall` | CC call failed | `Queued` | (the monitor keeps the entry: `cc-service-retention`) |
//! | `Recalling`, `CcCall` | the request went back to the queue | `Queued` | (the next `ready` recalls again) |
//! | any live | the own user cancels | `Unsubscribing` | SUBSCRIBE `Expires: 0` |
//! | any | NOTIFY `terminated` | `Ended(Terminated)` (or `Completed` after the CC call, `Cancelled` after an unsubscribe) | report `ended` |
//!
//! A NOTIFY without a `cc-state` (a malformed body) changes nothing; the subscription stays.

use callcomp_sip::body::call_completion::{CallCompletion, CcState};
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::call_info::CallInfo;
use callcomp_sip::headers::subscription_state::{SubState, SubscriptionState};
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::uri::Uri;
use serde::{Deserialize, Serialize};

use super::call_completion::EVENT;

/// The remote monitor's offer on a failed trunk call (RFC 6910 §7.1 `Call-Info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteOffer {
    /// Where to subscribe (the Call-Info URI).
    pub monitor: String,
    /// The `m` parameter (`BS`, `NR`, `NL`), if given.
    pub m: Option<String>,
}

impl RemoteOffer {
    /// The offer a `Call-Info` header makes, if it is a call-completion one.
    pub fn of(info: &CallInfo) -> Option<RemoteOffer> {
        info.is_call_completion().then(|| RemoteOffer {
            monitor: info.uri.to_string(),
            m: info.m().map(str::to_owned),
        })
    }
}

/// Where one agent request stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AgentState {
    /// The SUBSCRIBE is out, unanswered.
    Subscribing,
    /// The monitor holds the entry; `cc_uri` once a NOTIFY named it.
    Queued {
        /// The request's `cc-URI` at the monitor.
        cc_uri: Option<String>,
    },
    /// The monitor said `ready`: the own user's recall rings.
    Recalling {
        /// Where the CC call goes.
        cc_uri: String,
    },
    /// The own user could not take the recall; the monitor was told (PUBLISH `closed`).
    Suspended {
        /// The request's `cc-URI`.
        cc_uri: String,
    },
    /// The own user answered: the CC call to the monitor's `cc-URI` is being placed.
    CcCall {
        /// Its Request-URI.
        cc_uri: String,
    },
    /// The own user cancelled: `Expires: 0` is out, the final NOTIFY awaited.
    Unsubscribing,
    /// Over.
    Ended(AgentEnd),
}

/// How an agent request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentEnd {
    /// The CC call reached the remote callee.
    Completed,
    /// The own user cancelled it.
    Cancelled,
    /// The monitor refused the SUBSCRIBE with this status (0: no answer at all).
    Refused(u16),
    /// The monitor ended the subscription, with this reason (`noresource`, `timeout`...).
    Terminated(String),
}

/// What happened to an agent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// The final response to the initial SUBSCRIBE (status 0: none came).
    Subscribed(u16),
    /// A NOTIFY in the subscription.
    Notify {
        /// Its `Subscription-State`.
        state: &'a SubscriptionState,
        /// Its `application/call-completion` body, when it had a readable one.
        body: Option<&'a CallCompletion>,
    },
    /// The own user answered the recall.
    RecallAnswered,
    /// The own user did not take the recall (busy, no answer, rejected).
    RecallFailed,
    /// The own user is free again after a failed recall.
    OwnUserFree,
    /// The request went back to the queue after the monitor's `ready` (its recall was not
    /// answered, or the CC call failed): the next `ready` recalls again.
    Requeued,
    /// The CC call ended: answered by the remote callee or not.
    CcCallEnded {
        /// Whether the remote callee answered.
        answered: bool,
    },
    /// The own user (API, `#37`) cancelled the request.
    Cancel,
}

/// What the core must do for an agent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ring the own user (the existing recall flow).
    Recall,
    /// Place the CC call: INVITE to `cc_uri` carrying `Call-Info: <cc_uri>;purpose=call-completion;m=`.
    PlaceCcCall {
        /// The monitor's `cc-URI`.
        cc_uri: String,
    },
    /// PUBLISH `Event: call-completion` with PIDF `basic` `open` (resume) or `closed`
    /// (suspend) to `cc_uri` (§6.5-§6.6).
    Publish {
        /// The monitor's `cc-URI`.
        cc_uri: String,
        /// `true`: open (resume); `false`: closed (suspend).
        open: bool,
    },
    /// SUBSCRIBE in the dialog with `Expires: 0`.
    Unsubscribe,
    /// The state changed: store it (before anything is acknowledged) and tell the API.
    Persist,
}

/// One completion request callcomp holds as an agent at another server's monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRequest {
    /// The local line the request is for (the caller).
    pub line: String,
    /// The remote party, as dialled: `sip:user@<trunk domain>`.
    pub target: String,
    /// The offer subscribed to.
    pub offer: RemoteOffer,
    /// Where it stands.
    pub state: AgentState,
}

impl RemoteRequest {
    /// A new request of `line` to `target` on `offer`; its SUBSCRIBE is about to go out.
    pub fn new(line: &str, target: &str, offer: RemoteOffer) -> RemoteRequest {
        RemoteRequest {
            line: line.to_owned(),
            target: target.to_owned(),
            offer,
            state: AgentState::Subscribing,
        }
    }

    /// Whether the request is over.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, AgentState::Ended(_))
    }

    /// Applies `input` (see the module's table) and returns what to do.
    pub fn handle(&mut self, input: Input<'_>) -> Vec<Action> {
        let before = self.state.clone();
        let mut actions = Vec::new();
        let next = match (&self.state, input) {
            (AgentState::Ended(_), _) => None,
            (AgentState::Subscribing, Input::Subscribed(status)) => Some(if is_2xx(status) {
                AgentState::Queued { cc_uri: None }
            } else {
                AgentState::Ended(AgentEnd::Refused(status))
            }),
            (_, Input::Notify { state, body }) => self.notified(state, body, &mut actions),
            (AgentState::Unsubscribing, _) => None,
            (_, Input::Cancel) => {
                actions.push(Action::Unsubscribe);
                Some(AgentState::Unsubscribing)
            }
            (AgentState::Recalling { cc_uri }, Input::RecallAnswered) => {
                actions.push(Action::PlaceCcCall {
                    cc_uri: cc_uri.clone(),
                });
                Some(AgentState::CcCall {
                    cc_uri: cc_uri.clone(),
                })
            }
            (AgentState::Recalling { cc_uri }, Input::RecallFailed) => {
                actions.push(Action::Publish {
                    cc_uri: cc_uri.clone(),
                    open: false,
                });
                Some(AgentState::Suspended {
                    cc_uri: cc_uri.clone(),
                })
            }
            (AgentState::Suspended { cc_uri }, Input::OwnUserFree) => {
                actions.push(Action::Publish {
                    cc_uri: cc_uri.clone(),
                    open: true,
                });
                Some(AgentState::Queued {
                    cc_uri: Some(cc_uri.clone()),
                })
            }
            (AgentState::Recalling { cc_uri } | AgentState::CcCall { cc_uri }, Input::Requeued) => {
                Some(AgentState::Queued {
                    cc_uri: Some(cc_uri.clone()),
                })
            }
            (AgentState::CcCall { .. }, Input::CcCallEnded { answered: true }) => {
                Some(AgentState::Ended(AgentEnd::Completed))
            }
            (AgentState::CcCall { cc_uri }, Input::CcCallEnded { answered: false }) => {
                Some(AgentState::Queued {
                    cc_uri: Some(cc_uri.clone()),
                })
            }
            _ => None,
        };
        if let Some(next) = next {
            self.state = next;
        }
        if self.state != before {
            actions.push(Action::Persist);
        }
        actions
    }

    /// A NOTIFY: `terminated` ends the request; otherwise its `cc-state` moves it.
    fn notified(
        &self,
        state: &SubscriptionState,
        body: Option<&CallCompletion>,
        actions: &mut Vec<Action>,
    ) -> Option<AgentState> {
        if state.state == SubState::Terminated {
            let end = match &self.state {
                AgentState::CcCall { .. } => AgentEnd::Completed,
                AgentState::Unsubscribing => AgentEnd::Cancelled,
                _ => AgentEnd::Terminated(state.reason().unwrap_or("noresource").to_owned()),
            };
            return Some(AgentState::Ended(end));
        }
        let body = body?;
        let known = match &self.state {
            AgentState::Queued { cc_uri } => cc_uri.clone(),
            AgentState::Recalling { cc_uri }
            | AgentState::Suspended { cc_uri }
            | AgentState::CcCall { cc_uri } => Some(cc_uri.clone()),
            AgentState::Subscribing | AgentState::Unsubscribing | AgentState::Ended(_) => None,
        };
        // The cc-URI the monitor names now, else the one named before, else the monitor's.
        let cc_uri = body
            .uri
            .clone()
            .or(known)
            .unwrap_or_else(|| self.offer.monitor.clone());
        match (&self.state, body.state.as_ref()?) {
            (AgentState::Unsubscribing, _) => None,
            (AgentState::Subscribing | AgentState::Queued { .. }, CcState::Ready) => {
                actions.push(Action::Recall);
                Some(AgentState::Recalling { cc_uri })
            }
            (AgentState::Subscribing | AgentState::Queued { .. }, CcState::Queued) => {
                Some(AgentState::Queued {
                    cc_uri: Some(cc_uri),
                })
            }
            // Ready again while recalling, suspended or calling: nothing new to do.
            _ => None,
        }
    }
}

/// Whether `status` is a 2xx.
fn is_2xx(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The initial SUBSCRIBE to the remote monitor (§6.2), complete but for Via, Contact, tags'
/// randomness and Call-ID, which the caller passes: Request-URI the monitor URI, From the own
/// user, To the remote party as dialled, `Event: call-completion`, `Accept:
/// application/call-completion`, `Expires`.
pub fn subscribe(
    request: &RemoteRequest,
    own_aor: &str,
    tag: &str,
    call_id: &str,
    expires_secs: u64,
) -> Option<Message> {
    let monitor = Uri::parse(&request.offer.monitor).ok()?;
    let mut subscribe = Message::new_request(Method::Subscribe, monitor);
    subscribe.push_raw(HeaderName::From, format!("<{own_aor}>;tag={tag}"));
    subscribe.push_raw(HeaderName::To, format!("<{}>", request.target));
    subscribe.push_raw(HeaderName::CallId, call_id.to_owned());
    subscribe.push(&callcomp_sip::headers::cseq::CSeq::new(
        1,
        Method::Subscribe,
    ));
    subscribe.push(&callcomp_sip::headers::numbers::MaxForwards(70));
    super::subscriber::with_event(
        &mut subscribe,
        EVENT,
        "application/call-completion",
        std::time::Duration::from_secs(expires_secs),
    );
    Some(subscribe)
}

/// The `Call-Info` a CC call to `cc_uri` carries (§6.4), with the offer's `m`.
pub fn cc_call_info(cc_uri: &str, m: Option<&str>) -> Option<CallInfo> {
    let uri = Uri::parse(cc_uri).ok()?;
    Some(CallInfo::call_completion(uri, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> RemoteOffer {
        RemoteOffer {
            monitor: "sip:cc@b.test".into(),
            m: Some("BS".into()),
        }
    }

    fn request() -> RemoteRequest {
        RemoteRequest::new("carol", "sip:dave@b.test", offer())
    }

    fn body(state: CcState, uri: Option<&str>) -> CallCompletion {
        CallCompletion {
            state: Some(state),
            service_retention: true,
            uri: uri.map(str::to_owned),
            extensions: Vec::new(),
        }
    }

    fn notify<'a>(
        r: &mut RemoteRequest,
        state: &'a SubscriptionState,
        body: Option<&'a CallCompletion>,
    ) -> Vec<Action> {
        r.handle(Input::Notify { state, body })
    }

    const CC: &str = "sip:cc-7@b.test";

    /// A request the monitor accepted and then called `ready` with cc-URI [`CC`].
    fn recalling() -> RemoteRequest {
        let mut r = request();
        r.handle(Input::Subscribed(200));
        let active = SubscriptionState::active(3600);
        notify(&mut r, &active, Some(&body(CcState::Ready, Some(CC))));
        assert_eq!(r.state, AgentState::Recalling { cc_uri: CC.into() });
        r
    }

    /// The state `Queued` with cc-URI [`CC`] known.
    fn queued_at_cc() -> AgentState {
        AgentState::Queued {
            cc_uri: Some(CC.into()),
        }
    }

    #[test]
    fn the_offer_is_read_from_a_call_completion_call_info_only() {
        let info = CallInfo::call_completion(Uri::parse("sip:cc@b.test").unwrap(), Some("NR"));
        assert_eq!(
            RemoteOffer::of(&info),
            Some(RemoteOffer {
                monitor: "sip:cc@b.test".into(),
                m: Some("NR".into())
            })
        );
        let mut other = info.clone();
        other.params = callcomp_sip::params::Params::new();
        other.params.push("purpose", Some("icon".into()));
        assert_eq!(RemoteOffer::of(&other), None);
    }

    /// The RFC 6910 §8 flow seen from the agent: subscribed, queued with the cc-URI, ready →
    /// recall, answered → CC call to the cc-URI, final NOTIFY → completed.
    #[test]
    fn the_whole_flow_ends_completed_with_a_cc_call_to_the_cc_uri() {
        let mut r = request();
        assert_eq!(r.handle(Input::Subscribed(200)), vec![Action::Persist]);
        assert_eq!(r.state, AgentState::Queued { cc_uri: None });
        let active = SubscriptionState::active(3600);
        let queued = body(CcState::Queued, Some(CC));
        assert_eq!(
            notify(&mut r, &active, Some(&queued)),
            vec![Action::Persist]
        );
        assert_eq!(r.state, queued_at_cc());
        // The same state again changes nothing and stores nothing.
        assert_eq!(notify(&mut r, &active, Some(&queued)), vec![]);
        let ready = body(CcState::Ready, None);
        assert_eq!(
            notify(&mut r, &active, Some(&ready)),
            vec![Action::Recall, Action::Persist]
        );
        assert_eq!(r.state, AgentState::Recalling { cc_uri: CC.into() });
        assert_eq!(
            r.handle(Input::RecallAnswered),
            vec![Action::PlaceCcCall { cc_uri: CC.into() }, Action::Persist]
        );
        assert_eq!(
            r.handle(Input::CcCallEnded { answered: true }),
            vec![Action::Persist]
        );
        assert_eq!(r.state, AgentState::Ended(AgentEnd::Completed));
        // The monitor's final NOTIFY after that changes nothing.
        let over = SubscriptionState::terminated(Some("noresource"));
        assert_eq!(notify(&mut r, &over, None), vec![]);
        assert!(r.is_ended());
    }

    #[test]
    fn a_refused_or_unanswered_subscribe_ends_the_request() {
        for status in [403, 480, 489, 0] {
            let mut r = request();
            assert_eq!(r.handle(Input::Subscribed(status)), vec![Action::Persist]);
            assert_eq!(r.state, AgentState::Ended(AgentEnd::Refused(status)));
            // Nothing moves an ended request.
            assert_eq!(r.handle(Input::Cancel), vec![]);
        }
    }

    #[test]
    fn a_busy_own_user_suspends_and_resumes_at_the_monitor() {
        let mut r = recalling();
        let active = SubscriptionState::active(3600);
        assert_eq!(
            r.handle(Input::RecallFailed),
            vec![
                Action::Publish {
                    cc_uri: CC.into(),
                    open: false
                },
                Action::Persist
            ]
        );
        assert_eq!(r.state, AgentState::Suspended { cc_uri: CC.into() });
        // `ready` again while suspended asks for nothing.
        assert_eq!(
            notify(&mut r, &active, Some(&body(CcState::Ready, Some(CC)))),
            vec![]
        );
        assert_eq!(
            r.handle(Input::OwnUserFree),
            vec![
                Action::Publish {
                    cc_uri: CC.into(),
                    open: true
                },
                Action::Persist
            ]
        );
        assert_eq!(r.state, queued_at_cc());
    }

    #[test]
    fn a_failed_cc_call_keeps_the_entry_queued() {
        let mut r = recalling();
        r.handle(Input::RecallAnswered);
        assert_eq!(
            r.handle(Input::CcCallEnded { answered: false }),
            vec![Action::Persist]
        );
        assert_eq!(r.state, queued_at_cc());
    }

    /// An unanswered recall (or a failed CC call the engine re-queued) waits for the next
    /// `ready`, which recalls again.
    #[test]
    fn a_requeued_request_recalls_again_on_the_next_ready() {
        let mut r = recalling();
        assert_eq!(r.handle(Input::Requeued), vec![Action::Persist]);
        assert_eq!(r.state, queued_at_cc());
        let ready = body(CcState::Ready, None);
        let active = SubscriptionState::active(60);
        let actions = notify(&mut r, &active, Some(&ready));
        assert_eq!(actions, vec![Action::Recall, Action::Persist]);
        assert!(r.handle(Input::Requeued).contains(&Action::Persist));
        assert!(
            request().handle(Input::Requeued).is_empty(),
            "not before a ready"
        );
    }

    #[test]
    fn the_own_users_cancel_unsubscribes_and_the_final_notify_ends_it_cancelled() {
        let mut r = request();
        r.handle(Input::Subscribed(200));
        assert_eq!(
            r.handle(Input::Cancel),
            vec![Action::Unsubscribe, Action::Persist]
        );
        // A `ready` racing the unsubscribe rings nobody.
        let active = SubscriptionState::active(3600);
        assert_eq!(
            notify(&mut r, &active, Some(&body(CcState::Ready, Some(CC)))),
            vec![]
        );
        let over = SubscriptionState::terminated(Some("noresource"));
        assert_eq!(notify(&mut r, &over, None), vec![Action::Persist]);
        assert_eq!(r.state, AgentState::Ended(AgentEnd::Cancelled));
    }

    #[test]
    fn the_monitor_ending_the_subscription_ends_the_request_with_its_reason() {
        let mut r = request();
        r.handle(Input::Subscribed(200));
        let over = SubscriptionState::terminated(Some("timeout"));
        notify(&mut r, &over, None);
        assert_eq!(
            r.state,
            AgentState::Ended(AgentEnd::Terminated("timeout".into()))
        );
    }

    #[test]
    fn a_notify_without_cc_state_changes_nothing() {
        let mut r = request();
        r.handle(Input::Subscribed(200));
        let active = SubscriptionState::active(3600);
        let empty = CallCompletion::default();
        assert_eq!(notify(&mut r, &active, Some(&empty)), vec![]);
        assert_eq!(notify(&mut r, &active, None), vec![]);
        assert_eq!(r.state, AgentState::Queued { cc_uri: None });
    }

    #[test]
    fn ready_without_a_cc_uri_calls_back_at_the_monitor_uri() {
        let mut r = request();
        r.handle(Input::Subscribed(200));
        let active = SubscriptionState::active(3600);
        notify(&mut r, &active, Some(&body(CcState::Ready, None)));
        assert_eq!(
            r.state,
            AgentState::Recalling {
                cc_uri: "sip:cc@b.test".into()
            }
        );
    }

    #[test]
    fn the_state_survives_a_json_round_trip() {
        let r = recalling();
        let text = serde_json::to_string(&r).unwrap();
        let back: RemoteRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn the_subscribe_names_the_monitor_the_remote_party_and_the_package() {
        let r = request();
        let m = subscribe(&r, "sip:carol@a.test", "t1", "c1@a", 3600).unwrap();
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert!(
            text.starts_with("SUBSCRIBE sip:cc@b.test SIP/2.0\r\n"),
            "{text}"
        );
        for line in [
            "From: <sip:carol@a.test>;tag=t1\r\n",
            "To: <sip:dave@b.test>\r\n",
            "Event: call-completion\r\n",
            "Accept: application/call-completion\r\n",
            "Expires: 3600\r\n",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
        let info = cc_call_info(CC, r.offer.m.as_deref()).unwrap();
        assert_eq!(info.uri.to_string(), CC);
        assert!(info.is_call_completion());
        assert_eq!(info.m(), Some("BS"));
    }
}
