//! What each completion mode is, defined once (DESIGN §2.1 step 4, §2.2, §2.5): what it needs
//! of the original call, what fires it, and what acceptance does to the original call. Every
//! other part of the engine asks these questions instead of comparing modes.

use crate::tapi::CompletionMode;

/// What a mode needs of the original call before it can be accepted (DESIGN §2.1 step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// A failed call in `busy` or `ringback`, its caller's leg open or not.
    FailedCall,
    /// A `busy` call whose caller's INVITE is still held open (`busy_hold`, DESIGN §2.5).
    HeldBusyLeg,
    /// A held busy leg as for [`Needs::HeldBusyLeg`], and a callee in a connected call through
    /// callcomp that may be joined: the callee is `intrudable` and nobody joined it already.
    JoinableCall,
}

impl Needs {
    /// Whether the original call itself passes: `failed` says it is `busy` or `ringback`,
    /// `held_busy` that it is `busy` with its caller's leg open. The callee's side of
    /// [`Needs::JoinableCall`] is the switch's to check.
    pub const fn met_by_call(self, failed: bool, held_busy: bool) -> bool {
        match self {
            Needs::FailedCall => failed,
            Needs::HeldBusyLeg | Needs::JoinableCall => held_busy,
        }
    }
}

/// What makes a request of a mode fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fires {
    /// The callee becoming available (DESIGN §2.3): the request waits in the callee's FIFO
    /// queue, then `then` happens.
    CalleeFree(OnFree),
    /// The callee's phone being registered: the message is delivered at once if it is, else
    /// at its next registration; it never waits in the queue.
    Delivery,
    /// Acceptance itself: the caller joins the callee's current call at once.
    AtOnce,
}

/// What happens when a queued request's callee is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFree {
    /// The held caller's INVITE goes through to the callee.
    ConnectHeldCall,
    /// The caller's phone is rung back (a new call), then the callee.
    Recall,
}

/// What acceptance does to the original call (DESIGN §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginalCall {
    /// It goes `idle` at once; a held caller leg is released, a ringing callee cancelled.
    Ends,
    /// It stays `busy` with its caller's leg held (`182 Queued`) until the request fires.
    StaysHeld,
    /// It stays `busy`, its leg held, until the intrusion happens; then it goes `connected`.
    Joins,
}

impl CompletionMode {
    /// What the mode needs of the original call.
    pub const fn needs(self) -> Needs {
        match self {
            CompletionMode::Campon => Needs::HeldBusyLeg,
            CompletionMode::Intrude => Needs::JoinableCall,
            CompletionMode::Callback | CompletionMode::Message => Needs::FailedCall,
        }
    }

    /// What fires a request of the mode.
    pub const fn fires(self) -> Fires {
        match self {
            CompletionMode::Campon => Fires::CalleeFree(OnFree::ConnectHeldCall),
            CompletionMode::Callback => Fires::CalleeFree(OnFree::Recall),
            CompletionMode::Message => Fires::Delivery,
            CompletionMode::Intrude => Fires::AtOnce,
        }
    }

    /// What acceptance does to the original call.
    pub const fn original_call(self) -> OriginalCall {
        match self {
            CompletionMode::Campon => OriginalCall::StaysHeld,
            CompletionMode::Intrude => OriginalCall::Joins,
            CompletionMode::Callback | CompletionMode::Message => OriginalCall::Ends,
        }
    }

    /// Whether a request of the mode waits in the callee's FIFO queue (and counts against
    /// `max_queue`).
    pub const fn queues(self) -> bool {
        matches!(self.fires(), Fires::CalleeFree(_))
    }

    /// Whether a request of the mode keeps the caller's original INVITE open while it is
    /// outstanding (its `held_call`).
    pub const fn holds_caller_leg(self) -> bool {
        !matches!(self.original_call(), OriginalCall::Ends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN §2.2, one row per mode.
    #[test]
    fn each_mode_row() {
        use CompletionMode::*;
        let rows = [
            (
                Campon,
                Needs::HeldBusyLeg,
                Fires::CalleeFree(OnFree::ConnectHeldCall),
                OriginalCall::StaysHeld,
                true,
                true,
            ),
            (
                Callback,
                Needs::FailedCall,
                Fires::CalleeFree(OnFree::Recall),
                OriginalCall::Ends,
                true,
                false,
            ),
            (
                Intrude,
                Needs::JoinableCall,
                Fires::AtOnce,
                OriginalCall::Joins,
                false,
                true,
            ),
            (
                Message,
                Needs::FailedCall,
                Fires::Delivery,
                OriginalCall::Ends,
                false,
                false,
            ),
        ];
        assert_eq!(rows.len(), CompletionMode::ALL.len());
        for (mode, needs, fires, original, queues, holds) in rows {
            assert_eq!(mode.needs(), needs, "{mode}");
            assert_eq!(mode.fires(), fires, "{mode}");
            assert_eq!(mode.original_call(), original, "{mode}");
            assert_eq!(mode.queues(), queues, "{mode}");
            assert_eq!(mode.holds_caller_leg(), holds, "{mode}");
        }
    }
}
