//! Metric names and the Prometheus recorder behind `GET /metrics`.
//!
//! The core records through the `metrics` facade under the names below; only the binary
//! installs the recorder ([`install_prometheus`]) and hands its handle to the router, so
//! libraries and tests that never install one record into nothing.

use std::sync::Mutex;

use metrics::{describe_counter, describe_gauge, Unit};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};

/// Counter: REGISTER requests handled, by [`LABEL_RESULT`] (`accepted`, `rejected`, `removed`).
pub const REGISTRATIONS: &str = "callcomp_registrations_total";
/// Gauge: calls that are not idle, by [`LABEL_STATE`] (the TAPI state name).
pub const CALLS: &str = "callcomp_calls";
/// Counter: calls entering a state, by [`LABEL_STATE`].
pub const CALL_STATE_CHANGES: &str = "callcomp_call_state_changes_total";
/// Counter: SIP transactions started, by [`LABEL_ROLE`] (`client`, `server`) and [`LABEL_METHOD`].
pub const TRANSACTIONS: &str = "callcomp_sip_transactions_total";
/// Counter: SIP messages received, by [`LABEL_METHOD`] (a response's CSeq method) and
/// [`LABEL_STATUS`] (the status code, or `request`).
pub const SIP_MESSAGES_IN: &str = "callcomp_sip_messages_received_total";
/// Counter: SIP messages sent, labelled as [`SIP_MESSAGES_IN`].
pub const SIP_MESSAGES_OUT: &str = "callcomp_sip_messages_sent_total";
/// Counter: datagrams or stream messages that did not parse as SIP, by [`LABEL_TRANSPORT`].
pub const PARSE_ERRORS: &str = "callcomp_sip_parse_errors_total";
/// Gauge: WebSocket clients following `/v1/events`.
pub const EVENT_CLIENTS: &str = "callcomp_api_event_clients";
/// Counter: events skipped for WebSocket clients that fell behind.
pub const EVENTS_LAGGED: &str = "callcomp_api_events_lagged_total";
/// Counter: out-of-dialog requests answered 482 because they were ours come back.
pub const LOOPS_DETECTED: &str = "callcomp_sip_loops_detected_total";
/// Counter: connections, upgrades and requests refused by a limit, by [`LABEL_LIMIT`].
pub const LIMIT_REFUSALS: &str = "callcomp_limit_refusals_total";

/// Counter: failed authentications (wrong password, unknown user, credentials of another
/// user), by [`LABEL_METHOD`] and [`LABEL_REASON`].
pub const AUTH_FAILURES: &str = "callcomp_auth_failures_total";
/// Counter: lockouts started, by [`LABEL_SCOPE`] (`source`, `user`).
pub const AUTH_LOCKOUTS: &str = "callcomp_auth_lockouts_total";
/// Counter: requests refused with 403 by the identity checks, by [`LABEL_REASON`]
/// (`locked-source`, `locked-user`, `identity-mismatch`, `untrusted-identity`, `not-dialog-peer`).
pub const AUTH_REFUSALS: &str = "callcomp_auth_refusals_total";

/// Gauge: 1 while the store can be written, 0 while it is unavailable (file deleted or
/// replaced, last commit failed); `/healthz` gives the reason.
pub const STORE_UP: &str = "callcomp_store_up";
/// Counter: store batches (group commits) that did not commit.
pub const STORE_WRITE_FAILURES: &str = "callcomp_store_write_failures_total";
/// Counter: media ticks (20 ms) that started more than 5 ms late, so RTP went out late.
pub const MEDIA_TICKS_LATE: &str = "callcomp_media_ticks_late_total";

/// Label: the outcome of a registration.
pub const LABEL_RESULT: &str = "result";
/// Label: a TAPI call state name.
pub const LABEL_STATE: &str = "state";
/// Label: `client` or `server` transaction.
pub const LABEL_ROLE: &str = "role";
/// Label: a SIP method.
pub const LABEL_METHOD: &str = "method";
/// Label: a SIP status code, or `request`.
pub const LABEL_STATUS: &str = "status";
/// Label: `udp` or `tcp`.
pub const LABEL_TRANSPORT: &str = "transport";
/// Label: which limit refused (`sip_tcp_total`, `sip_tcp_per_address`, `sip_tcp_message_timeout`,
/// `api_connections`, `api_event_clients`, `api_host`, `api_origin`).
pub const LABEL_LIMIT: &str = "limit";
/// Label: why an authentication failed or a request was refused.
pub const LABEL_REASON: &str = "reason";
/// Label: what a lockout applies to, `source` or `user`.
pub const LABEL_SCOPE: &str = "scope";

/// Every metric name defined here.
pub const ALL: &[&str] = &[
    REGISTRATIONS,
    CALLS,
    CALL_STATE_CHANGES,
    TRANSACTIONS,
    SIP_MESSAGES_IN,
    SIP_MESSAGES_OUT,
    PARSE_ERRORS,
    EVENT_CLIENTS,
    EVENTS_LAGGED,
    LOOPS_DETECTED,
    LIMIT_REFUSALS,
    AUTH_FAILURES,
    AUTH_LOCKOUTS,
    AUTH_REFUSALS,
    STORE_UP,
    STORE_WRITE_FAILURES,
    MEDIA_TICKS_LATE,
];

/// The Prometheus recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Another recorder is already installed in the process, or the builder failed.
    #[error("cannot install the Prometheus recorder: {0}")]
    Install(#[from] BuildError),
}

/// Installs the Prometheus recorder as the process's global `metrics` recorder, once, and
/// returns its handle; later calls return the same handle.
pub fn install_prometheus() -> Result<PrometheusHandle, MetricsError> {
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    // A poisoned lock still holds a valid Option: nothing here panics halfway.
    let mut slot = HANDLE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = slot.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new().install_recorder()?;
    describe();
    *slot = Some(handle.clone());
    Ok(handle)
}

/// Registers the help text of every metric with the installed recorder.
pub fn describe() {
    describe_counter!(
        REGISTRATIONS,
        Unit::Count,
        "REGISTER requests handled, by result."
    );
    describe_gauge!(
        CALLS,
        Unit::Count,
        "Calls that are not idle, by TAPI state."
    );
    describe_counter!(
        CALL_STATE_CHANGES,
        Unit::Count,
        "Calls entering a TAPI state."
    );
    describe_counter!(
        TRANSACTIONS,
        Unit::Count,
        "SIP transactions started, by role and method."
    );
    describe_counter!(
        SIP_MESSAGES_IN,
        Unit::Count,
        "SIP messages received, by method and status."
    );
    describe_counter!(
        SIP_MESSAGES_OUT,
        Unit::Count,
        "SIP messages sent, by method and status."
    );
    describe_counter!(
        PARSE_ERRORS,
        Unit::Count,
        "Messages that did not parse as SIP."
    );
    describe_gauge!(
        EVENT_CLIENTS,
        Unit::Count,
        "WebSocket clients following the event stream."
    );
    describe_counter!(
        EVENTS_LAGGED,
        Unit::Count,
        "Events skipped for slow WebSocket clients."
    );
    describe_counter!(
        LOOPS_DETECTED,
        Unit::Count,
        "Requests answered 482: one of callcomp's own requests came back."
    );
    describe_counter!(
        LIMIT_REFUSALS,
        Unit::Count,
        "Connections and requests refused by a limit, by limit."
    );
    describe_counter!(
        AUTH_FAILURES,
        Unit::Count,
        "Failed authentications, by method and reason."
    );
    describe_counter!(
        AUTH_LOCKOUTS,
        Unit::Count,
        "Lockouts started after repeated failed authentications, by scope."
    );
    describe_counter!(
        AUTH_REFUSALS,
        Unit::Count,
        "Requests refused by the identity checks, by reason."
    );
    describe_gauge!(
        STORE_UP,
        Unit::Count,
        "1 while the store can be written, 0 while acknowledgements are refused."
    );
    describe_counter!(
        STORE_WRITE_FAILURES,
        Unit::Count,
        "Store batches that did not commit."
    );
    describe_counter!(
        MEDIA_TICKS_LATE,
        Unit::Count,
        "Media ticks (20 ms) that started more than 5 ms late."
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Prometheus conventions: one prefix, counters end in `_total`, gauges do not, no repeats.
    #[test]
    fn metric_names_follow_prometheus_conventions() {
        let counters = [
            REGISTRATIONS,
            CALL_STATE_CHANGES,
            TRANSACTIONS,
            SIP_MESSAGES_IN,
            SIP_MESSAGES_OUT,
            PARSE_ERRORS,
            EVENTS_LAGGED,
            LOOPS_DETECTED,
            LIMIT_REFUSALS,
            AUTH_FAILURES,
            AUTH_LOCKOUTS,
            AUTH_REFUSALS,
            STORE_WRITE_FAILURES,
            MEDIA_TICKS_LATE,
        ];
        let gauges = [CALLS, EVENT_CLIENTS, STORE_UP];
        assert_eq!(counters.len() + gauges.len(), ALL.len());
        let unique: HashSet<&str> = ALL.iter().copied().collect();
        assert_eq!(unique.len(), ALL.len());
        for name in ALL {
            assert!(name.starts_with("callcomp_"), "{name}");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
        }
        assert!(counters.iter().all(|n| n.ends_with("_total")));
        assert!(gauges.iter().all(|n| !n.ends_with("_total")));
    }
}
