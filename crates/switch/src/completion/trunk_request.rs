//! A completion request of another server's subscriber (RFC 6910 §7, the monitor side for a
//! trusted trunk): its SUBSCRIBE, not a call of this switch, asks. The server found the
//! failed call that came over the trunk (its condition); the checks are lineCompleteCall's
//! where they apply, with the trunk's own limit in place of a line's.
//!
//! 1. `target` is not a line → `INVALLINEHANDLE`; the trunk's limit is 0 → `OPERATIONUNAVAIL`;
//! 2. `callback` not offered → `INVALCALLCOMPLMODE`; the condition not offered → `INVALCALLSTATE`;
//! 3. the trunk's subscribers have `max` requests outstanding → `COMPLETIONOVERRUN`;
//! 4. the callee's queue is full → `RESOURCEUNAVAIL`.
//!
//! Accepted in two phases like every request ([`Switch::commit_completion`] once stored).

use crate::completion::caller::{Caller, TrunkCaller};
use crate::completion::request::CompletionRequest;
use crate::completion::target::CompletionTarget;
use crate::completion::validate::{Limits, Valid};
use crate::switch::Switch;
use crate::tapi::{CompletionCond, CompletionMode, LineErr};
use crate::time::Time;

impl Switch {
    /// The first half of a trunk subscriber's request: `caller` wants a callback on `target`,
    /// whose call from it failed with `condition`; at most `max` requests per trunk. The
    /// request is built and holds its id and queue place until committed or abandoned.
    pub fn prepare_trunk_completion(
        &mut self,
        caller: TrunkCaller,
        target: &str,
        condition: CompletionCond,
        max: u32,
        now: Time,
    ) -> Result<CompletionRequest, LineErr> {
        if !self.lines.contains_key(target) {
            return Err(LineErr::InvalLineHandle);
        }
        if max == 0 {
            return Err(LineErr::OperationUnavail);
        }
        let mode = CompletionMode::Callback;
        if !self.completion.offered_modes().contains(&mode) {
            return Err(LineErr::InvalCallComplMode);
        }
        if !self.completion.config().conds.contains(&condition) {
            return Err(LineErr::InvalCallState);
        }
        if self.completion.trunk_outstanding(&caller.trunk) >= max {
            return Err(LineErr::CompletionOverrun);
        }
        if self.completion.queue_full(target, mode) {
            return Err(LineErr::ResourceUnavail);
        }
        let id = self.completion.allocate()?;
        let valid = Valid {
            mode,
            condition,
            message_id: None,
            joins: None,
        };
        let target = CompletionTarget::Line(target.to_owned());
        let request =
            self.completion
                .build(id, valid, Caller::Trunk(caller), &target, None, None, now);
        self.completion.pending.insert(id, request.clone());
        Ok(request)
    }

    /// The outstanding request of trunk subscriber `caller` to `target`, if it has one (RFC
    /// 6910 §6.2: one per caller and destination, so a new SUBSCRIBE attaches to it).
    pub fn trunk_completion(
        &self,
        caller: &TrunkCaller,
        target: &str,
    ) -> Option<&CompletionRequest> {
        self.completion
            .requests_for(target)
            .into_iter()
            .find(|r| r.caller.trunk() == Some(caller))
    }
}
