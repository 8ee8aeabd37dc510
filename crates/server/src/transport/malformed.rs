//! The rate-limited log of bad input: malformed packets, connections refused by a bound, and
//! datagrams dropped under a flood.
//!
//! Logging each one would let anyone who can send a datagram fill the disk and drown the
//! lines that matter. Instead each is noted in a [`Tally`] (and logged at debug level where it
//! happens), and once per `log.malformed_interval` one summary line per kind is written with
//! the count and the last source and reason. Counts also go to `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::warn;

use super::runtime::{stopped, Ctx};

/// What the summary lines call each kind.
fn describe(kind: &str) -> &str {
    match kind {
        MALFORMED => "malformed SIP input",
        UDP_DROPPED => "UDP messages dropped: the core's queue was full",
        "sip_tcp_total" => "SIP TCP connections refused (sip.tcp_max_connections)",
        "sip_tcp_per_address" => "SIP TCP connections refused (sip.tcp_max_per_address)",
        "sip_tcp_message_timeout" => {
            "SIP TCP connections closed: message not whole in time (sip.tcp_message_timeout)"
        }
        other => other,
    }
}

/// The kind of malformed packets.
pub(crate) const MALFORMED: &str = "malformed";
/// The kind of well-formed datagrams dropped because the core's queue was full.
pub(crate) const UDP_DROPPED: &str = "udp_inbound_dropped";

/// Bad input noted since the last summary, by kind.
#[derive(Default)]
pub(crate) struct Tally {
    kinds: Mutex<BTreeMap<&'static str, Entry>>,
}

struct Entry {
    count: u64,
    last_source: SocketAddr,
    last_detail: String,
}

/// One summary line's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) kind: &'static str,
    pub(crate) count: u64,
    pub(crate) last_source: SocketAddr,
    pub(crate) last_detail: String,
}

impl Tally {
    /// Notes one occurrence of `kind` from `source`.
    pub(crate) fn note(&self, kind: &'static str, source: SocketAddr, detail: impl Display) {
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        let entry = kinds.entry(kind).or_insert_with(|| Entry {
            count: 0,
            last_source: source,
            last_detail: String::new(),
        });
        entry.count += 1;
        entry.last_source = source;
        entry.last_detail = detail.to_string();
    }

    /// Everything noted since the last call, and a fresh start.
    pub(crate) fn take(&self) -> Vec<Summary> {
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *kinds)
            .into_iter()
            .map(|(kind, e)| Summary {
                kind,
                count: e.count,
                last_source: e.last_source,
                last_detail: e.last_detail,
            })
            .collect()
    }
}

/// The text of a summary line.
pub(crate) fn line(summary: &Summary, interval: Duration) -> String {
    let detail = if summary.last_detail.is_empty() {
        String::new()
    } else {
        format!(": {}", summary.last_detail)
    };
    format!(
        "{}: {} in the last {}s, last from {}{detail}",
        describe(summary.kind),
        summary.count,
        interval.as_secs(),
        summary.last_source,
    )
}

/// Writes the summary lines every `malformed_interval` until the transports stop.
pub(crate) async fn report(ctx: Arc<Ctx>) {
    let interval = ctx.limits.malformed_interval;
    let mut stop = ctx.stop.clone();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = ticks.tick() => {}
        }
        for summary in ctx.tally.take() {
            warn!(
                kind = summary.kind,
                count = summary.count,
                "{}",
                line(&summary, interval)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_kind_until_taken() {
        let tally = Tally::default();
        let a: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:5060".parse().unwrap();
        for _ in 0..49 {
            tally.note(MALFORMED, a, "Invalid Via header");
        }
        tally.note(MALFORMED, b, "Missing CSeq header");
        tally.note("sip_tcp_per_address", a, "");
        let taken = tally.take();
        assert_eq!(
            taken,
            vec![
                Summary {
                    kind: MALFORMED,
                    count: 50,
                    last_source: b,
                    last_detail: "Missing CSeq header".into()
                },
                Summary {
                    kind: "sip_tcp_per_address",
                    count: 1,
                    last_source: a,
                    last_detail: String::new()
                },
            ]
        );
        assert_eq!(
            line(&taken[0], Duration::from_secs(10)),
            "malformed SIP input: 50 in the last 10s, last from 192.0.2.2:5060: Missing CSeq header"
        );
        assert_eq!(
            line(&taken[1], Duration::from_secs(10)),
            "SIP TCP connections refused (sip.tcp_max_per_address): 1 in the last 10s, last from 192.0.2.1:5060"
        );
        assert!(tally.take().is_empty());
    }
}
