//! The CC call of a request whose callee is on another server (RFC 6910 §6.4, the agent role;
//! issue #11 item 4). The recall rings the own user as for a local callee; once she answered,
//! callcomp's INVITE goes over the callee's trunk to the remote monitor's `cc-URI` (To: the
//! remote party as dialled) carrying `Call-Info: <cc-URI>;purpose=call-completion;m=…`, so the
//! remote server recognises the CC call and gives it the callee. Its answer or failure is the
//! recall's, as for a local callee ([`super::recall`]).

use callcomp_sip::message::Message;
use callcomp_sip::uri::Uri;
use callcomp_switch::{CallRef, RemoteTarget};

use super::call::Leg;
use super::classify::Outcome;
use super::dialog::copy_end_to_end;
use super::fork::{Destination, Outgoing};
use super::join::{new_invite, phone_from};
use super::trunk::{trunk_of, trunk_target};
use super::{B2bua, Ctx, Timer};
use crate::subscription::agent::cc_call_info;

impl B2bua {
    /// The own user answered recall `id` (her 2xx `answer`): place the CC call to `remote`.
    /// No trunk for the remote AOR's domain any more (configuration changed) or no media
    /// endpoint: the recall fails as toward an unreachable callee.
    pub(super) fn remote_cc_call(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        remote: &RemoteTarget,
        answer: &Message,
    ) {
        let Some(Leg::Out(phone)) = self.calls.get(&id).map(|c| &c.caller) else {
            return;
        };
        let Some(dialog) = phone.dialog.as_ref() else {
            return;
        };
        let from = phone_from(cx, dialog);
        let config = cx.config;
        let trunk = Uri::parse(&remote.aor)
            .ok()
            .and_then(|aor| trunk_of(config, &aor));
        let cc_uri = Uri::parse(remote.cc_call_uri()).ok();
        let info = cc_call_info(remote.cc_call_uri(), remote.m.as_deref());
        let (Some(trunk), Some(cc_uri), Some(info)) = (trunk, cc_uri, info) else {
            tracing::warn!(call = id.0, aor = %remote.aor, "recall: no trunk to the remote callee");
            return self.join_failed(cx, id, Outcome::NotRegistered);
        };
        let mut invite = new_invite(cx, remote.cc_call_uri(), &from, &remote.aor);
        copy_end_to_end(answer, &mut invite);
        invite.push(&info);
        if !self.recall_offer(cx, id, &mut invite) {
            return self.join_failed(cx, id, Outcome::NotRegistered);
        }
        let destination = Destination {
            uri: cc_uri,
            target: trunk_target(trunk),
        };
        tracing::info!(call = id.0, to = %destination.uri, trunk = %trunk.domain, "CC call over the trunk (RFC 6910 §6.4)");
        let out = Outgoing::start(&invite, &[destination], cx.sip, cx.now);
        self.attach_callee(id, out);
        let ring = cx.config.completion.recall_callee_ring;
        self.arm(cx.now.instant + ring, id, Timer::NoAnswer);
    }
}
