//! Feature codes for any handset (DESIGN §3, `[completion.feature_codes]`): a phone with no
//! RFC 6910 dials a code instead of a callee.
//!
//! - a mode's code (default `*37` for `callback`) asks for completion of the caller's newest
//!   failed call whose offer window is still open, through the same checks, limits and
//!   durable accept as the API's lineCompleteCall (so the request shows in the API and its
//!   events like any other);
//! - `cancel` (default `#37`) cancels every outstanding request of the caller, each durably.
//!
//! Once the store committed, the code's INVITE is answered with a tone when the phone offered
//! SDP (`b2bua/code_tone.rs`): 200 with callcomp's media, the confirmation tone (requested,
//! cancelled) or the error tone (refused), BYE after a few seconds; the outcome and its
//! reason are logged (and the request shows in the API and events as any other). A phone
//! with no SDP offer gets the final response that says the same: `480 Completion Requested`
//! with the request's `Call-Info` (its cc URI and `m`), `480 Completion Cancelled (N)`, or a
//! refusal (`404 No Failed Call To Complete`, `404 No Completion Requests`, `403 <LINEERR
//! name>`, 480 with `Retry-After` when the callee's queue or the line is full). A stranger
//! (no local line) gets `403` without media.

use std::collections::HashMap;

use callcomp_sip::builder;
use callcomp_sip::headers::call_info::CallInfo;
use callcomp_sip::message::Message;
use callcomp_sip::transaction::TransactionKey;
use callcomp_switch::{CompletionId, CompletionMode, LineErr};

use super::monitor::{refusal, SipWait};
use super::{ids, lock, Engine, Now};
use crate::b2bua::offer::{m_of, request_cc_uri};
use crate::config::FeatureCodes;
use crate::identity::Identity;
use crate::media::ToneKind;
use crate::registrar::aor_user;
use crate::transport::Target;

/// What a dialled code asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Complete my newest failed call in this mode.
    Complete(CompletionMode),
    /// Cancel all my requests.
    CancelAll,
}

/// The code an INVITE's Request-URI dials, if it is one of `codes` (`#` may come escaped as
/// `%23`).
pub fn recognise(codes: &FeatureCodes, request: &Message) -> Option<Code> {
    let dialled = request.uri().and_then(aor_user)?;
    let is = |code: &str| !code.is_empty() && code == dialled;
    if is(&codes.callback) {
        Some(Code::Complete(CompletionMode::Callback))
    } else if is(&codes.message) {
        Some(Code::Complete(CompletionMode::Message))
    } else if is(&codes.cancel) {
        Some(Code::CancelAll)
    } else {
        None
    }
}

/// A code's INVITE waiting for its store jobs.
#[derive(Debug)]
pub(crate) struct Waiting {
    key: TransactionKey,
    request: Message,
    /// Where the INVITE came from (the tone call's dialog is with it).
    source: Target,
    code: Code,
    /// For `cancel`: the group of cancels this job belongs to.
    group: u64,
}

/// The cancels of one `cancel` code: how many are left, how many went through.
#[derive(Debug, Default)]
pub(crate) struct CancelGroup {
    left: usize,
    done: usize,
    error: Option<LineErr>,
}

/// The `cancel` groups in flight, by group id (the first job's id).
pub(crate) type CancelGroups = HashMap<u64, CancelGroup>;

impl Engine {
    /// A dialled feature code (see the module documentation).
    pub(super) fn feature_code(
        &mut self,
        key: TransactionKey,
        request: Message,
        (identity, source): (&Identity, Target),
        code: Code,
        now: Now,
    ) {
        let Some(line) = identity.user().map(str::to_owned) else {
            self.reply(
                &key,
                &request,
                403,
                Some("Feature Codes Are For Local Users"),
                now,
            );
            return;
        };
        tracing::info!(line, ?code, "feature code dialled");
        match code {
            Code::Complete(mode) => {
                let call = lock(&self.switch).last_completable_call(&line, None, mode);
                let Some(call) = call else {
                    let response = builder::response(
                        &request,
                        404,
                        Some("No Failed Call To Complete"),
                        &ids::tag(),
                    );
                    self.answer_code(&key, &request, source, response, now);
                    return;
                };
                match self.request_completion(Some(&line), call.get(), mode.value(), 0, now) {
                    Ok(job) => {
                        let waiting = Waiting {
                            key,
                            request,
                            source,
                            code,
                            group: job,
                        };
                        self.waits.insert(job, SipWait::Code(waiting));
                        self.settle_waits(now);
                    }
                    Err(e) => {
                        let response = refusal(&request, e);
                        self.answer_code(&key, &request, source, response, now);
                    }
                }
            }
            Code::CancelAll => {
                let ids: Vec<u32> = lock(&self.switch)
                    .completions_of(&line)
                    .map(|rs| rs.iter().map(|r| r.id.get()).collect())
                    .unwrap_or_default();
                let jobs: Vec<u64> = ids
                    .into_iter()
                    .filter_map(|id| self.uncomplete_call(&line, id, now).ok())
                    .collect();
                let Some(&group) = jobs.first() else {
                    let response = builder::response(
                        &request,
                        404,
                        Some("No Completion Requests"),
                        &ids::tag(),
                    );
                    self.answer_code(&key, &request, source, response, now);
                    return;
                };
                self.cancel_groups.insert(
                    group,
                    CancelGroup {
                        left: jobs.len(),
                        ..CancelGroup::default()
                    },
                );
                for job in jobs {
                    let waiting = Waiting {
                        key: key.clone(),
                        request: request.clone(),
                        source,
                        code,
                        group,
                    };
                    self.waits.insert(job, SipWait::Code(waiting));
                }
            }
        }
    }

    /// A store job of a code finished with `result`; the INVITE is answered once all of its
    /// jobs did.
    pub(super) fn code_settled(
        &mut self,
        _job: u64,
        waiting: Waiting,
        result: Result<u32, LineErr>,
        now: Now,
    ) {
        let response = match waiting.code {
            Code::Complete(_) => match result.map(CompletionId::new) {
                Ok(Some(id)) => self.requested(&waiting.request, id),
                Ok(None) => builder::response(&waiting.request, 500, None, &ids::tag()),
                Err(e) => refusal(&waiting.request, e),
            },
            Code::CancelAll => {
                let Some(group) = self.cancel_groups.get_mut(&waiting.group) else {
                    return;
                };
                group.left = group.left.saturating_sub(1);
                match result {
                    Ok(_) => group.done += 1,
                    // Ended by itself meanwhile: nothing left to cancel.
                    Err(LineErr::InvalCompletionId) => {}
                    Err(e) => group.error = Some(e),
                }
                if group.left > 0 {
                    return;
                }
                let group = self
                    .cancel_groups
                    .remove(&waiting.group)
                    .unwrap_or_default();
                match group.error {
                    Some(e) if group.done == 0 => refusal(&waiting.request, e),
                    _ => {
                        let reason = format!("Completion Cancelled ({})", group.done);
                        builder::response(&waiting.request, 480, Some(&reason), &ids::tag())
                    }
                }
            }
        };
        self.answer_code(
            &waiting.key,
            &waiting.request,
            waiting.source,
            response,
            now,
        );
    }

    /// Answers a code's INVITE with the outcome `response` says: with a tone when the phone
    /// offered SDP (the confirmation tone for `480 Completion …`, the error tone for a
    /// refusal), else with `response` itself. The outcome is logged either way.
    fn answer_code(
        &mut self,
        key: &TransactionKey,
        request: &Message,
        source: Target,
        response: Message,
        now: Now,
    ) {
        let status = response.status().unwrap_or(500);
        let reason = response
            .reason_phrase()
            .map(|r| r.into_owned())
            .unwrap_or_default();
        let accepted = status == 480 && reason.starts_with("Completion ");
        let tone = if accepted {
            ToneKind::Confirmation
        } else {
            ToneKind::Busy
        };
        let toned = self.with_ctx(now, |b2bua, cx| {
            b2bua.answer_code(cx, key, request, source, tone)
        });
        tracing::info!(
            status,
            reason,
            accepted,
            tone = toned.then_some(if accepted { "confirmation" } else { "error" }),
            "feature code answered"
        );
        if !toned {
            self.sip.respond(key, response, now.instant);
        }
    }

    /// `480 Completion Requested`, with the new request's Call-Info.
    fn requested(&self, request: &Message, id: CompletionId) -> Message {
        let mut response =
            builder::response(request, 480, Some("Completion Requested"), &ids::tag());
        let m = lock(&self.switch).completion(id).map(|r| m_of(r.condition));
        if let Some(uri) = request_cc_uri(&self.config.domain, id) {
            response.push(&CallInfo::call_completion(uri, m));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use callcomp_sip::parse::Limits;

    use super::*;

    fn invite_to(user: &str) -> Message {
        let text = format!(
            "INVITE sip:{user}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bKc1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:{user}@example.com>\r\n\
             Call-ID: code-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
    }

    #[test]
    fn codes_are_recognised_as_configured() {
        let codes = FeatureCodes::default();
        assert_eq!(
            recognise(&codes, &invite_to("*37")),
            Some(Code::Complete(CompletionMode::Callback))
        );
        assert_eq!(
            recognise(&codes, &invite_to("%2337")),
            Some(Code::CancelAll)
        );
        assert_eq!(recognise(&codes, &invite_to("bob")), None);
        assert_eq!(recognise(&codes, &invite_to("*3")), None);
        let custom = FeatureCodes {
            callback: "*5".to_owned(),
            message: "*6".to_owned(),
            cancel: String::new(),
        };
        assert_eq!(
            recognise(&custom, &invite_to("*6")),
            Some(Code::Complete(CompletionMode::Message))
        );
        assert_eq!(recognise(&custom, &invite_to("*37")), None);
        assert_eq!(
            recognise(&custom, &invite_to("%2337")),
            None,
            "cancel is off"
        );
    }
}
