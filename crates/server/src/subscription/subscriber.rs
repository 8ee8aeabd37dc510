//! The subscriber side of RFC 6665 that callcomp's subscriptions share: the RFC 4235 dialog
//! watches ([`super::watch`]) and the RFC 6910 agent subscriptions ([`super::agents`]). The
//! 2xx to a SUBSCRIBE grants a time ([`granted`]); a refresh goes out in the dialog before it
//! runs out ([`refresh_at`]); refreshes and the unsubscribe (`Expires: 0`) are SUBSCRIBEs in
//! the dialog naming the package ([`in_dialog`]).

use std::time::{Duration, Instant};

use callcomp_sip::header_name::HeaderName;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;

use crate::b2bua::dialog::Dialog;
use crate::core::transactions::Transactions;

/// How long before the granted time runs out a refresh is sent (at most half of it).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// When a subscription granted for `granted` at `now` is refreshed.
pub fn refresh_at(now: Instant, granted: Duration) -> Instant {
    now + granted.saturating_sub(REFRESH_MARGIN.min(granted / 2))
}

/// The time a 2xx to a SUBSCRIBE granted: its `Expires`, else `asked`.
pub fn granted(response: &Message, asked: Duration) -> Duration {
    response
        .get_str(&HeaderName::Expires)
        .and_then(|e| e.trim().parse::<u64>().ok())
        .map_or(asked, Duration::from_secs)
}

/// `Event: event`, `Accept: accept` and `Expires: expires` on a SUBSCRIBE.
pub fn with_event(subscribe: &mut Message, event: &str, accept: &str, expires: Duration) {
    subscribe.push_raw(HeaderName::Event, event.to_owned());
    subscribe.push_raw(HeaderName::Accept, accept.to_owned());
    subscribe.push_raw(HeaderName::Expires, expires.as_secs().to_string());
}

/// A SUBSCRIBE in `dialog` for package `event` (bodies of type `accept`) asking for `expires`
/// (0: unsubscribe).
pub fn in_dialog(
    dialog: &mut Dialog,
    sip: &mut Transactions,
    event: &str,
    accept: &str,
    expires: Duration,
) -> Message {
    let mut subscribe = dialog.request(Method::Subscribe, sip);
    with_event(&mut subscribe, event, accept, expires);
    subscribe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_go_before_the_granted_time_runs_out() {
        let now = Instant::now();
        assert_eq!(
            refresh_at(now, Duration::from_secs(3600)),
            now + Duration::from_secs(3570)
        );
        assert_eq!(
            refresh_at(now, Duration::from_secs(40)),
            now + Duration::from_secs(20),
            "at most half the time early"
        );
    }
}
