//! Calls out over a trunk (`[[trunks]]`, issue #11 item 4): a local user's INVITE whose
//! Request-URI host is a trunk's domain goes to that trunk's server, Request-URI and To as
//! dialled, instead of to a local user. The other server sees a trusted peer when callcomp's
//! address is in its `sip.trusted`. Responses come back through the ordinary fork machinery
//! ([`super::setup`]): provisional and 2xx relayed, a failure classified; the remote monitor's
//! completion offer on that failure is kept on the call ([`super::fork::Outgoing::remote_offer`])
//! for the agent role.
//!
//! Only local users call out: a stranger's call to a trunk domain (even through a trusted peer)
//! is refused 403, so callcomp never relays between two other servers.

use callcomp_sip::check::Essentials;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::from_to::From as FromHeader;
use callcomp_sip::headers::Header;
use callcomp_sip::message::Message;
use callcomp_sip::uri::Uri;
use callcomp_switch::{CallRef, Fact, RemoteTarget};

use super::call::Leg;
use super::classify::Outcome;
use super::fork::{Destination, Outgoing};
use super::{B2bua, Ctx, Timer};
use crate::config::{Config, Transport, TrunkConfig};
use crate::transport::{Proto, Target};

/// The trunk a Request-URI is for: its host is a trunk's domain (and not callcomp's own).
pub fn trunk_of<'c>(config: &'c Config, uri: &Uri) -> Option<&'c TrunkConfig> {
    let host = uri.as_sip()?.host.to_string();
    if host.eq_ignore_ascii_case(&config.domain) {
        return None;
    }
    config.trunk_for(&host)
}

/// Where a trunk's server is reached.
pub fn trunk_target(trunk: &TrunkConfig) -> Target {
    Target {
        proto: match trunk.transport {
            Transport::Udp => Proto::Udp,
            Transport::Tcp => Proto::Tcp,
        },
        remote: trunk.address,
        conn: None,
    }
}

/// The other server knows callcomp's user by her address of record in callcomp's domain
/// (`sip:erin@a.test`), whatever host her phone wrote in From: that is the subscriber its
/// monitor will see in the agent's SUBSCRIBE (RFC 6910 §6.2). The display name and the tag
/// stay.
fn as_own_user(cx: &Ctx<'_>, invite: &mut Message, line: &str) {
    let Some(Ok(mut from)) = invite.header::<FromHeader>() else {
        return;
    };
    let Ok(aor) = Uri::parse(&cx.aor(line)) else {
        return;
    };
    from.0.uri = aor;
    invite.set_raw(HeaderName::From, from.to_value());
}

impl B2bua {
    /// Sends the caller's INVITE of call `id` to `trunk` (see the module documentation).
    pub(super) fn send_to_trunk(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        trunk: &TrunkConfig,
        ess: &Essentials,
    ) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.caller_line.is_none() {
            self.fail(
                cx,
                id,
                None,
                Outcome::Response {
                    status: 403,
                    reason: "Trunks Are For Local Users".into(),
                },
            );
            return;
        }
        let Leg::In(incoming) = &call.caller else {
            return;
        };
        let Some(dialled) = incoming.invite.uri().cloned() else {
            return;
        };
        let to = ess.to.uri.to_string();
        let mut invite: Message = super::setup::callee_invite(cx, &incoming.invite, ess, &to);
        if let Some(line) = call.caller_line.as_deref() {
            as_own_user(cx, &mut invite, line);
        }
        let destination = Destination {
            uri: dialled,
            target: trunk_target(trunk),
        };
        tracing::info!(call = id.0, trunk = %trunk.domain, to = %destination.uri, "call out over a trunk");
        cx.fact(Fact::Proceeding { call: id });
        let out = Outgoing::start(&invite, &[destination], cx.sip, cx.now);
        self.attach_callee(id, out);
        let at = cx.now.instant + cx.config.sip.no_answer_timeout;
        if let Some(call) = self.calls.get_mut(&id) {
            call.ringing_timer = Some(at);
        }
        self.arm(at, id, Timer::NoAnswer);
        self.check_all_failed(cx, id);
    }

    /// Call `id` is failing: if it went out over a trunk and the failure carried the remote
    /// monitor's offer, the switch learns the remote callee (the AOR as dialled, the monitor
    /// URI, `m`), so the caller's call can be completed toward it (RFC 6910 §5).
    pub(super) fn keep_remote_target(&self, cx: &mut Ctx<'_>, id: CallRef) {
        let Some(Leg::Out(out)) = self.calls.get(&id).and_then(|c| c.callee.as_ref()) else {
            return;
        };
        let (Some(offer), Some(fork)) = (out.remote_offer.as_ref(), out.forks.first()) else {
            return;
        };
        let over_trunk = fork
            .invite
            .uri()
            .is_some_and(|uri| trunk_of(cx.config, uri).is_some());
        let to = fork
            .invite
            .header::<callcomp_sip::headers::from_to::To>()
            .and_then(Result::ok);
        let (true, Some(to)) = (over_trunk, to) else {
            return;
        };
        let target = RemoteTarget {
            aor: to.0.uri.to_string(),
            monitor: offer.uri.to_string(),
            m: offer.m().map(str::to_owned),
            cc_uri: None,
        };
        tracing::info!(call = id.0, aor = %target.aor, monitor = %target.monitor, "remote completion offer kept");
        cx.switch.set_remote_target(id, target);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use callcomp_sip::builder;
    use callcomp_sip::headers::call_info::CallInfo;
    use callcomp_sip::parse::Limits;
    use callcomp_switch::Time;

    use super::*;
    use crate::b2bua::fork::ForkEvent;
    use crate::core::transactions::Transactions;
    use crate::core::Now;

    const CONFIG: &str = "domain = \"a.test\"\n[[trunks]]\ndomain = \"b.test\"\n\
                          address = \"192.0.2.20:5070\"\ntransport = \"tcp\"\n";

    fn uri(text: &str) -> Uri {
        Uri::parse(text).unwrap()
    }

    #[test]
    fn only_a_trunks_domain_routes_to_it() {
        let config = Config::from_toml_str(CONFIG, "t.toml").unwrap();
        let trunk = trunk_of(&config, &uri("sip:dave@B.test")).unwrap();
        let target = trunk_target(trunk);
        assert_eq!(target.remote, "192.0.2.20:5070".parse().unwrap());
        assert_eq!(target.proto, Proto::Tcp);
        for local in ["sip:dave@a.test", "sip:dave@192.0.2.1", "sip:dave@c.test"] {
            assert!(trunk_of(&config, &uri(local)).is_none(), "{local}");
        }
        assert!(trunk_of(&config, &uri("tel:+15551234")).is_none());
    }

    /// The trunk's failure with its monitor's offer is kept on the outgoing side; a failure
    /// without one keeps none.
    #[test]
    fn a_trunk_failure_keeps_the_remote_monitors_offer() {
        for with_offer in [true, false] {
            let mut sip = Transactions::new(
                callcomp_sip::transaction::TimerConfig::default(),
                "192.0.2.1:5060".parse().unwrap(),
            );
            let now = Now {
                instant: Instant::now(),
                wall: Time::from_millis(1_800_000_000_000),
            };
            let invite = Message::parse_datagram(
                b"INVITE sip:dave@b.test SIP/2.0\r\nMax-Forwards: 70\r\n\
                  To: <sip:dave@b.test>\r\nFrom: <sip:carol@a.test>;tag=a\r\n\
                  Call-ID: c@a\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
                &Limits::default(),
            )
            .unwrap();
            let destination = Destination {
                uri: uri("sip:dave@b.test"),
                target: Target {
                    proto: Proto::Udp,
                    remote: "192.0.2.20:5070".parse().unwrap(),
                    conn: None,
                },
            };
            let mut out = Outgoing::start(&invite, &[destination], &mut sip, now);
            let sent = out.forks[0].invite.clone();
            let mut busy = builder::response(&sent, 486, None, "b");
            busy.push(&CallInfo::call_completion(uri("sip:cc@b.test"), Some("BS")));
            if !with_offer {
                busy = builder::response(&sent, 486, None, "b");
            }
            let event = out.on_response(0, busy, &mut sip, now);
            assert!(matches!(event, ForkEvent::Failed), "{event:?}");
            assert_eq!(out.best.as_ref().map(|b| b.0), Some(486));
            let offer = out.remote_offer.as_ref();
            if with_offer {
                let offer = offer.unwrap();
                assert_eq!(offer.uri.to_string(), "sip:cc@b.test");
                assert_eq!(offer.m(), Some("BS"));
            } else {
                assert!(offer.is_none());
            }
        }
    }
}
