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
use callcomp_sip::message::Message;
use callcomp_sip::uri::Uri;
use callcomp_switch::{CallRef, Fact};

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
        let invite: Message = super::setup::callee_invite(cx, &incoming.invite, ess, &to);
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
}
