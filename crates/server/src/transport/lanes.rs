//! The two inbound lanes to the core: calls in progress before new work.
//!
//! Every inbound event goes into one of two bounded queues ([`Lane`]). The *dialog* lane
//! carries what belongs to work already under way: every response, every request with a To
//! tag (BYE, ACK, re-INVITE, NOTIFY, UPDATE, INFO inside a dialog), an ACK or BYE without
//! one, and TCP connection closes. The *new-work* lane carries requests outside any dialog
//! (a new INVITE, REGISTER, SUBSCRIBE, OPTIONS, ...) and CANCEL, which rides with the
//! INVITE it cancels so that it can never overtake it.
//!
//! The core takes the dialog lane first ([`InboundRx::recv_many`]), so a BYE never waits
//! behind a backlog of new INVITEs; the transport refuses new work with `503` once the two
//! lanes together hold [`TransportLimits::shed_at`](super::TransportLimits::shed_at)
//! messages (`overload.rs`). Each lane is bounded by
//! [`TransportLimits::inbound_queue`](super::TransportLimits::inbound_queue), so memory stays
//! bounded; since new work stops being queued at the shedding mark, only CANCELs can fill the
//! new-work lane beyond it.

use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::overload::has_to_tag;
use super::Inbound;

/// Which inbound queue an event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Responses and in-dialog requests: taken first, never refused.
    Dialog,
    /// Requests that open new work (and CANCEL, kept behind its INVITE).
    New,
}

/// The lane of a parsed message.
pub(crate) fn lane(message: &Message) -> Lane {
    match message.method() {
        None => Lane::Dialog,
        Some(Method::Ack | Method::Bye) => Lane::Dialog,
        Some(Method::Cancel) => Lane::New,
        Some(_) if has_to_tag(message) => Lane::Dialog,
        Some(_) => Lane::New,
    }
}

/// Why [`InboundTx::try_send`] did not queue an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotQueued {
    /// The lane holds its bound.
    Full,
    /// No one reads the lanes any more.
    Closed,
}

/// The transport's end of the two lanes.
#[derive(Debug, Clone)]
pub(crate) struct InboundTx {
    dialog: mpsc::Sender<Inbound>,
    new: mpsc::Sender<Inbound>,
    bound: usize,
}

impl InboundTx {
    fn lane(&self, lane: Lane) -> &mpsc::Sender<Inbound> {
        match lane {
            Lane::Dialog => &self.dialog,
            Lane::New => &self.new,
        }
    }

    /// Queues without waiting; the event is dropped when that lane holds its bound or the
    /// core is gone.
    pub(crate) fn try_send(&self, event: Inbound, lane: Lane) -> Result<(), NotQueued> {
        self.lane(lane).try_send(event).map_err(|e| match e {
            TrySendError::Full(_) => NotQueued::Full,
            TrySendError::Closed(_) => NotQueued::Closed,
        })
    }

    /// Queues, waiting for room (TCP: the connection stops being read meanwhile).
    pub(crate) async fn send(
        &self,
        event: Inbound,
        lane: Lane,
    ) -> Result<(), mpsc::error::SendError<Inbound>> {
        self.lane(lane).send(event).await
    }

    /// How many events wait in both lanes together.
    pub(crate) fn queued(&self) -> usize {
        let waiting = |s: &mpsc::Sender<Inbound>| self.bound.saturating_sub(s.capacity());
        waiting(&self.dialog) + waiting(&self.new)
    }
}

/// The core's end of the two lanes.
#[derive(Debug)]
pub struct InboundRx {
    dialog: mpsc::Receiver<Inbound>,
    new: mpsc::Receiver<Inbound>,
}

/// Two lanes of `bound` events each.
pub(crate) fn lanes(bound: usize) -> (InboundTx, InboundRx) {
    let bound = bound.max(1);
    let (dialog_tx, dialog) = mpsc::channel(bound);
    let (new_tx, new) = mpsc::channel(bound);
    (
        InboundTx {
            dialog: dialog_tx,
            new: new_tx,
            bound,
        },
        InboundRx { dialog, new },
    )
}

impl From<mpsc::Receiver<Inbound>> for InboundRx {
    /// One queue fed by the caller (tests, benches), as the dialog lane; the new-work lane is
    /// closed and empty.
    fn from(dialog: mpsc::Receiver<Inbound>) -> InboundRx {
        let (_, new) = mpsc::channel(1);
        InboundRx { dialog, new }
    }
}

impl InboundRx {
    /// Waits for at least one event, then moves up to `limit` waiting events into `buf`, the
    /// dialog lane's first. Returns how many; 0 once both lanes are closed and empty.
    /// Cancel-safe: nothing is taken from a lane unless it is put into `buf`.
    pub async fn recv_many(&mut self, buf: &mut Vec<Inbound>, limit: usize) -> usize {
        let start = buf.len();
        loop {
            self.take_waiting(buf, start + limit);
            if buf.len() > start {
                return buf.len() - start;
            }
            let event = tokio::select! {
                biased;
                Some(e) = self.dialog.recv() => e,
                Some(e) = self.new.recv() => e,
                else => return 0,
            };
            buf.push(event);
        }
    }

    /// The next event, the dialog lane's first; `None` once both lanes are closed and empty.
    pub async fn recv(&mut self) -> Option<Inbound> {
        let mut one = Vec::with_capacity(1);
        self.recv_many(&mut one, 1).await;
        one.pop()
    }

    /// An event already waiting, the dialog lane's first, without waiting for one.
    pub fn try_recv(&mut self) -> Option<Inbound> {
        self.dialog.try_recv().or_else(|_| self.new.try_recv()).ok()
    }

    /// Fills `buf` up to `up_to` with what waits: the dialog lane first, but at most three
    /// quarters of the batch while new work waits. A To tag is the sender's to write, so a
    /// flood of forged "in-dialog" requests (answered 481 by the core) must not starve new
    /// calls for good: each batch keeps a quarter of its room for the new-work lane.
    fn take_waiting(&mut self, buf: &mut Vec<Inbound>, up_to: usize) {
        let room = up_to.saturating_sub(buf.len());
        let dialog_first = up_to - room / 4;
        take(&mut self.dialog, buf, dialog_first);
        take(&mut self.new, buf, up_to);
        take(&mut self.dialog, buf, up_to);
    }
}

/// Moves events from `lane` into `buf` until it holds `up_to` or the lane is empty.
fn take(lane: &mut mpsc::Receiver<Inbound>, buf: &mut Vec<Inbound>, up_to: usize) {
    while buf.len() < up_to {
        match lane.try_recv() {
            Ok(e) => buf.push(e),
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use callcomp_sip::parse::Limits;

    use super::*;
    use crate::transport::ConnId;

    fn parse(text: &str) -> Message {
        Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
    }

    fn request(method: &str, to: &str) -> Message {
        parse(&format!(
            "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
From: <sip:alice@example.com>;tag=a\r\nTo: {to}\r\nCall-ID: c1\r\nCSeq: 1 {method}\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ))
    }

    #[test]
    fn responses_and_dialog_requests_take_the_dialog_lane() {
        let untagged = "<sip:bob@example.com>";
        let tagged = "<sip:bob@example.com>;tag=b";
        assert_eq!(lane(&request("INVITE", untagged)), Lane::New);
        assert_eq!(lane(&request("OPTIONS", untagged)), Lane::New);
        assert_eq!(lane(&request("CANCEL", untagged)), Lane::New);
        assert_eq!(lane(&request("INVITE", tagged)), Lane::Dialog);
        assert_eq!(lane(&request("NOTIFY", tagged)), Lane::Dialog);
        assert_eq!(lane(&request("BYE", untagged)), Lane::Dialog);
        assert_eq!(lane(&request("ACK", untagged)), Lane::Dialog);
        let response = parse(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\n\
CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(lane(&response), Lane::Dialog);
    }

    #[tokio::test]
    async fn the_dialog_lane_is_taken_first_and_the_new_lane_after() {
        let (tx, mut rx) = lanes(4);
        for n in 0..3 {
            tx.try_send(Inbound::Closed(ConnId(n)), Lane::New).unwrap();
        }
        tx.try_send(Inbound::Closed(ConnId(10)), Lane::Dialog)
            .unwrap();
        assert_eq!(tx.queued(), 4);
        let mut buf = Vec::new();
        assert_eq!(rx.recv_many(&mut buf, 2).await, 2);
        let ids: Vec<u64> = buf
            .drain(..)
            .map(|e| match e {
                Inbound::Closed(id) => id.0,
                Inbound::Message { .. } => panic!("only closes were queued"),
            })
            .collect();
        assert_eq!(ids, [10, 0]);
        assert_eq!(tx.queued(), 2);
        drop(tx);
        assert_eq!(rx.recv_many(&mut buf, 8).await, 2);
        assert_eq!(rx.recv_many(&mut buf, 8).await, 0, "both lanes closed");
    }

    /// A dialog lane that never empties (forged To tags) still leaves a quarter of every
    /// batch to the new-work lane.
    #[tokio::test]
    async fn a_full_dialog_lane_leaves_a_quarter_of_each_batch_to_new_work() {
        let (tx, mut rx) = lanes(64);
        for n in 0..64 {
            tx.try_send(Inbound::Closed(ConnId(n)), Lane::Dialog)
                .unwrap();
            tx.try_send(Inbound::Closed(ConnId(1000 + n)), Lane::New)
                .unwrap();
        }
        let mut buf = Vec::new();
        assert_eq!(rx.recv_many(&mut buf, 16).await, 16);
        let new = buf
            .iter()
            .filter(|e| matches!(e, Inbound::Closed(id) if id.0 >= 1000))
            .count();
        assert_eq!(new, 4, "a quarter of the batch");
        assert!(
            matches!(buf[0], Inbound::Closed(ConnId(0))),
            "the dialog lane still goes first"
        );
    }
}
