//! lineCompleteCall's checks, in DESIGN §2.1's order; the first failure wins.
//!
//! 1. unknown call → `INVALCALLHANDLE`; a requester that does not own it → `NOTOWNER`;
//! 2. completion unavailable on the line (`max_call_completions == 0`), or a call whose callee
//!    is neither a line of this switch nor a remote party whose monitor offered completion
//!    → `OPERATIONUNAVAIL`;
//! 3. not exactly one known mode, one the address does not offer, or (remote callee) not
//!    `callback` → `INVALCALLCOMPLMODE`;
//! 4. the call is not `busy`/`ringback`, the mode cannot apply in its state (DESIGN §2.1), its
//!    condition is not offered (digest §9.10), or (`intrude`) the callee has no call callcomp
//!    carries that may be joined (not `intrudable`, not connected, joined already)
//!    → `INVALCALLSTATE`;
//! 5. `message` with `message_id` past the list → `INVALMESSAGEID`;
//! 6. the line's outstanding requests are at its maximum → `COMPLETIONOVERRUN`;
//! 7. the callee's queue is full → `RESOURCEUNAVAIL`.

use crate::call::{Call, CallRef, Direction};
use crate::completion::mode::Needs;
use crate::completion::target::CompletionTarget;
use crate::facts::Failure;
use crate::tapi::{CallState, CompletionCond, CompletionMode, LineErr};

/// What validation needs to know beyond the call itself.
pub trait Limits {
    /// `max_call_completions` of `line`.
    fn max_call_completions(&self, line: &str) -> u32;
    /// The outstanding requests of `line`.
    fn outstanding(&self, line: &str) -> u32;
    /// Whether `target`'s queue has no room for one more request of `mode`.
    fn queue_full(&self, target: &str, mode: CompletionMode) -> bool;
}

/// One lineCompleteCall, as asked.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// The line acting, or `None` for the server's own API, which owns every call.
    pub requester: Option<&'a str>,
    /// The call, if the id named one.
    pub call: Option<&'a Call>,
    /// The callee of that call: one of our lines, or a remote party whose monitor offered
    /// completion.
    pub target: Option<&'a CompletionTarget>,
    /// `dwCompletionMode` as given (one `LINECALLCOMPLMODE_*` bit).
    pub mode: u32,
    /// `dwMessageID` as given.
    pub message_id: u32,
    /// The callee's call an intrusion would join: connected through callcomp, the callee
    /// `intrudable`, nobody joined it already.
    pub joinable: Option<CallRef>,
}

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid {
    /// The mode.
    pub mode: CompletionMode,
    /// The condition, from how the call failed.
    pub condition: CompletionCond,
    /// The message, for mode `message`.
    pub message_id: Option<u32>,
    /// The callee's call to join, for mode `intrude`.
    pub joins: Option<CallRef>,
}

/// Runs the checks in order over `ask`, with the address offering `offered` under `conds` and
/// `messages` predefined texts.
pub fn validate(
    ask: &Ask<'_>,
    offered: &[CompletionMode],
    conds: &[CompletionCond],
    messages: usize,
    limits: &impl Limits,
) -> Result<Valid, LineErr> {
    let call = ask.call.ok_or(LineErr::InvalCallHandle)?;
    if ask.requester.is_some_and(|r| r != call.line) {
        return Err(LineErr::NotOwner);
    }
    let max = limits.max_call_completions(&call.line);
    let target = match ask.target {
        Some(t) if max > 0 => t,
        _ => return Err(LineErr::OperationUnavail),
    };
    // A remote monitor (RFC 6910) offers only callback: no camp-on, intrusion or message.
    let mode = CompletionMode::from_value(ask.mode)
        .filter(|m| offered.contains(m))
        .filter(|m| target.line().is_some() || *m == CompletionMode::Callback)
        .ok_or(LineErr::InvalCallComplMode)?;
    let condition = condition_of(call)
        .filter(|c| conds.contains(c) && call.completable_modes().contains(&mode))
        .ok_or(LineErr::InvalCallState)?;
    let joins = match mode.needs() {
        Needs::JoinableCall => Some(ask.joinable.ok_or(LineErr::InvalCallState)?),
        Needs::FailedCall | Needs::HeldBusyLeg => None,
    };
    let message_id = match mode {
        CompletionMode::Message => {
            let fits = usize::try_from(ask.message_id).is_ok_and(|m| m < messages);
            if !fits {
                return Err(LineErr::InvalMessageId);
            }
            Some(ask.message_id)
        }
        _ => None,
    };
    if limits.outstanding(&call.line) >= max {
        return Err(LineErr::CompletionOverrun);
    }
    if limits.queue_full(target.key(), mode) {
        return Err(LineErr::ResourceUnavail);
    }
    Ok(Valid {
        mode,
        condition,
        message_id,
        joins,
    })
}

/// The completion condition of an outgoing call in `busy` or `ringback`: from its failure, or
/// `noanswer` while the callee still rings; `None` for any other call.
pub fn condition_of(call: &Call) -> Option<CompletionCond> {
    if call.direction != Direction::Out {
        return None;
    }
    match (call.state, call.failure) {
        (CallState::Busy | CallState::Ringback, Some(Failure::Busy)) => Some(CompletionCond::Busy),
        (CallState::Busy | CallState::Ringback, Some(Failure::NoAnswer)) => {
            Some(CompletionCond::Noanswer)
        }
        (CallState::Busy | CallState::Ringback, Some(Failure::NotRegistered)) => {
            Some(CompletionCond::Notregistered)
        }
        (CallState::Ringback, None) => Some(CompletionCond::Noanswer),
        (CallState::Busy, None) => Some(CompletionCond::Busy),
        _ => None,
    }
}
