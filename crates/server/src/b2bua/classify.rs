//! Failure classification (issue #3 item 4, DESIGN §3): how the callee side of a call
//! failed, as a typed [`Failure`] for the switch, and what the caller is told.
//!
//! - 486 and 600 are busy;
//! - the no-answer timer, or 480/408/487 after the callee rang, is no answer;
//! - a callee without a binding is not registered;
//! - anything else is relayed as it came, and is a plain rejection for the switch.

use callcomp_switch::Failure;

/// What ended the callee side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The best final response of all forks, with its reason phrase.
    Response {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// No fork answered a final response in time (Timer B): as a 408.
    TimedOut,
    /// callcomp's no-answer timer fired while the callee was being called.
    NoAnswerTimer,
    /// The callee has no live binding.
    NotRegistered,
    /// callcomp refused a second call to a user with call waiting off (DESIGN §2.3).
    BusyOnBusy,
}

/// The classified failure and the response the caller gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The failure as the switch sees it.
    pub failure: Failure,
    /// The status for the caller.
    pub status: u16,
    /// The reason phrase for the caller (`None`: the standard phrase).
    pub reason: Option<String>,
}

impl Classified {
    /// The RFC 6910 `m` value of the completion offer for this failure, if it offers one.
    pub fn offer_mode(&self) -> Option<&'static str> {
        offer_mode(self.failure)
    }
}

/// The RFC 6910 §11 `m` parameter for a completable failure: `BS` (busy subscriber), `NR`
/// (no reply), `NL` (not logged in).
pub fn offer_mode(failure: Failure) -> Option<&'static str> {
    match failure {
        Failure::Busy => Some("BS"),
        Failure::NoAnswer => Some("NR"),
        Failure::NotRegistered => Some("NL"),
        _ => None,
    }
}

/// Classifies how the callee side ended; `rang` says whether it sent 180/183 first.
pub fn classify(outcome: &Outcome, rang: bool) -> Classified {
    let plain = |failure, status| Classified {
        failure,
        status,
        reason: None,
    };
    match outcome {
        Outcome::NoAnswerTimer => plain(Failure::NoAnswer, 480),
        Outcome::NotRegistered => plain(Failure::NotRegistered, 480),
        Outcome::BusyOnBusy => plain(Failure::Busy, 486),
        Outcome::TimedOut if rang => plain(Failure::NoAnswer, 408),
        Outcome::TimedOut => plain(Failure::Unreachable, 408),
        Outcome::Response { status, reason } => {
            let failure = match *status {
                486 | 600 => Failure::Busy,
                480 | 408 | 487 if rang => Failure::NoAnswer,
                487 => Failure::Cancelled,
                408 => Failure::Unreachable,
                404 | 604 => Failure::NotFound,
                other => Failure::Rejected(other),
            };
            Classified {
                failure,
                status: *status,
                reason: Some(reason.clone()),
            }
        }
    }
}

/// Of two final failures from different forks, the one to relay (after RFC 3261 §16.7
/// step 6): a 6xx wins, then busy (486), then the lowest class, 4xx before 5xx; the first
/// one seen wins a tie. 487 (we cancelled) loses to anything else.
pub fn better(new: u16, old: u16) -> bool {
    rank(new) < rank(old)
}

fn rank(status: u16) -> (u8, u16) {
    match status {
        600..=699 => (0, 0),
        486 => (1, 0),
        487 => (9, 0),
        s => (2, s / 100),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16) -> Outcome {
        Outcome::Response {
            status,
            reason: "R".into(),
        }
    }

    /// Issue #3 item 4, row by row: (outcome, rang) → (failure, status to the caller, m).
    #[test]
    fn classification_table() {
        let rows: &[(Outcome, bool, Failure, u16, Option<&str>)] = &[
            (response(486), false, Failure::Busy, 486, Some("BS")),
            (response(486), true, Failure::Busy, 486, Some("BS")),
            (response(600), false, Failure::Busy, 600, Some("BS")),
            (
                Outcome::NoAnswerTimer,
                true,
                Failure::NoAnswer,
                480,
                Some("NR"),
            ),
            (
                Outcome::NoAnswerTimer,
                false,
                Failure::NoAnswer,
                480,
                Some("NR"),
            ),
            (response(480), true, Failure::NoAnswer, 480, Some("NR")),
            (response(408), true, Failure::NoAnswer, 408, Some("NR")),
            (response(487), true, Failure::NoAnswer, 487, Some("NR")),
            (Outcome::TimedOut, true, Failure::NoAnswer, 408, Some("NR")),
            (
                Outcome::NotRegistered,
                false,
                Failure::NotRegistered,
                480,
                Some("NL"),
            ),
            (Outcome::BusyOnBusy, false, Failure::Busy, 486, Some("BS")),
            (response(480), false, Failure::Rejected(480), 480, None),
            (response(408), false, Failure::Unreachable, 408, None),
            (Outcome::TimedOut, false, Failure::Unreachable, 408, None),
            (response(487), false, Failure::Cancelled, 487, None),
            (response(404), false, Failure::NotFound, 404, None),
            (response(603), true, Failure::Rejected(603), 603, None),
            (response(503), false, Failure::Rejected(503), 503, None),
        ];
        for (outcome, rang, failure, status, m) in rows {
            let c = classify(outcome, *rang);
            assert_eq!(
                (c.failure, c.status, c.offer_mode()),
                (*failure, *status, *m),
                "{outcome:?} rang={rang}"
            );
        }
    }

    #[test]
    fn best_response_among_forks() {
        assert!(better(603, 486));
        assert!(better(486, 404));
        assert!(better(404, 503));
        assert!(better(480, 487));
        assert!(!better(404, 480));
        assert!(!better(487, 503));
    }
}
