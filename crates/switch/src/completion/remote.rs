//! A remote target's availability (RFC 6910 §5, the agent role): the request waits until the
//! remote monitor's NOTIFY says `ready`, then is selected and recalls its caller as any other;
//! the recall's answer places the CC call over the trunk (the server's part).

use crate::completion::engine::Engine;
use crate::completion::io::CompletionFactError;
use crate::completion::request::{CompletionId, RequestState};
use crate::completion::target::CompletionTarget;
use crate::time::Time;

impl Engine {
    /// The monitor said `ready` for remote request `id` (naming its `cc-URI` if it did): the
    /// condition is met and the request is selected if its caller is free. A `ready` for a
    /// request that is already selected or recalling changes nothing; one for a line's
    /// request is refused.
    pub(crate) fn remote_ready(
        &mut self,
        id: CompletionId,
        cc_uri: Option<String>,
        now: Time,
    ) -> Result<(), CompletionFactError> {
        let r = self.get(id)?;
        let CompletionTarget::Remote(_) = &r.target else {
            return Err(CompletionFactError::InvalidInState {
                id,
                fact: "remote_ready",
                state: "line target",
            });
        };
        let key = r.target.key().to_owned();
        let waiting = matches!(r.state, RequestState::Queued | RequestState::Suspended);
        if let Some(r) = self.requests.get_mut(&id) {
            if let (CompletionTarget::Remote(t), Some(uri)) = (&mut r.target, cc_uri) {
                t.cc_uri = Some(uri);
            }
            if waiting {
                r.condition_met = true;
            }
        }
        if waiting {
            self.resume_one(id);
            self.select(&key, now);
        }
        Ok(())
    }
}
