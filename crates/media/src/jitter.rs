//! A small reorder/jitter buffer: packets go in as they arrive, frames come out in sequence
//! order, one per playout tick, after a fixed cushion (RFC 3550 §6.4.1 describes the jitter it
//! absorbs; the buffer itself is the receiver's business, not specified by the RFC).
//!
//! The server calls [`JitterBuffer::push`] for each received packet and [`JitterBuffer::pop`]
//! every ptime (20 ms). Time is passed in, so behaviour is tested without sleeping. Design:
//! - Sequence numbers are extended ([`SequenceCounter`]); a packet older than the one due is
//!   late and dropped, a second copy is a duplicate and dropped.
//! - Playout starts once the first packet has waited `delay` (the cushion), and restarts the same
//!   way after an underrun (the sender paused, e.g. silence suppression), so the cushion is rebuilt
//!   and no packet of the resumed talkspurt is taken for late.
//! - A missing packet with later ones waiting is lost: [`Playout::Lost`] stands in for its frame
//!   (the caller conceals it, e.g. by repeating or by silence).
//! - A sender restart (sequence jump, new SSRC) flushes the buffer and primes again.
//! - At most `capacity` packets are held; when a sender runs ahead of our clock the oldest is
//!   dropped, keeping the delay bounded.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::rtp::{Packet, SequenceCounter, SequenceStep};

/// How much the buffer holds back and keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// How long the first packet of a talkspurt waits before playout starts.
    pub delay: Duration,
    /// Most packets held at once.
    pub capacity: usize,
}

impl Default for JitterConfig {
    /// 40 ms of cushion (two G.711 frames) and one second of packets.
    fn default() -> Self {
        JitterConfig {
            delay: Duration::from_millis(40),
            capacity: 50,
        }
    }
}

/// A packet held for playout, its payload copied out of the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buffered {
    /// The extended sequence number.
    pub extended: u64,
    /// The payload type.
    pub payload_type: u8,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// The marker bit.
    pub marker: bool,
    /// The payload.
    pub payload: Vec<u8>,
}

/// What one playout tick yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The next packet in order.
    Packet(Buffered),
    /// The packet due now never arrived although later ones did.
    Lost {
        /// Its extended sequence number.
        extended: u64,
    },
    /// Nothing to play: not started, building the cushion, or the sender is silent.
    Waiting,
}

/// What happened to a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Held for playout.
    Accepted,
    /// Its turn has passed; dropped.
    Late,
    /// Already held; dropped.
    Duplicate,
    /// Held, after the sender restarted (sequence jump or new SSRC) and the buffer was flushed.
    Restarted,
}

/// Counters for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted (including after a restart).
    pub accepted: u64,
    /// Packets dropped as late.
    pub late: u64,
    /// Packets dropped as duplicates.
    pub duplicate: u64,
    /// Frames reported lost.
    pub lost: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
    /// Ticks with nothing to play once playout had started (underruns).
    pub underrun: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing received yet, or flushed.
    Idle,
    /// Building the cushion: playout starts at `start`, continuing from `next` if known.
    Priming { start: Instant, next: Option<u64> },
    /// Playing; `next` is due at the next tick.
    Playing { next: u64 },
    /// Underrun: waiting for packets, then priming again from `next`.
    Starved { next: u64 },
}

/// The jitter buffer of one incoming RTP stream.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: JitterConfig,
    counter: SequenceCounter,
    ssrc: Option<u32>,
    held: BTreeMap<u64, Buffered>,
    state: State,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(config: JitterConfig) -> Self {
        JitterBuffer {
            config,
            counter: SequenceCounter::new(),
            ssrc: None,
            held: BTreeMap::new(),
            state: State::Idle,
            stats: JitterStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// True when no packet is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Takes one received packet.
    pub fn push(&mut self, packet: &Packet<'_>, now: Instant) -> PushOutcome {
        let mut restarted = false;
        if self.ssrc.is_some_and(|ssrc| ssrc != packet.ssrc) {
            self.flush();
            restarted = true;
        }
        self.ssrc = Some(packet.ssrc);
        let extended = match self.counter.observe(packet.sequence) {
            SequenceStep::Ahead { extended, .. } | SequenceStep::Late { extended } => extended,
            SequenceStep::Jump { extended } => {
                self.held.clear();
                self.state = State::Idle;
                restarted = true;
                extended
            }
        };
        let due = match self.state {
            State::Idle => None,
            State::Priming { next, .. } => next,
            State::Playing { next } | State::Starved { next } => Some(next),
        };
        if due.is_some_and(|due| extended < due) {
            self.stats.late += 1;
            return PushOutcome::Late;
        }
        if self.held.contains_key(&extended) {
            self.stats.duplicate += 1;
            return PushOutcome::Duplicate;
        }
        if self.held.len() >= self.config.capacity {
            if let Some((&oldest, _)) = self.held.first_key_value() {
                self.held.remove(&oldest);
                self.stats.overflow += 1;
            }
        }
        self.held.insert(
            extended,
            Buffered {
                extended,
                payload_type: packet.payload_type,
                timestamp: packet.timestamp,
                marker: packet.marker,
                payload: packet.payload.to_vec(),
            },
        );
        self.stats.accepted += 1;
        self.state = match self.state {
            State::Idle => State::Priming {
                start: now + self.config.delay,
                next: None,
            },
            State::Starved { next } => State::Priming {
                start: now + self.config.delay,
                next: Some(next),
            },
            other => other,
        };
        if restarted {
            PushOutcome::Restarted
        } else {
            PushOutcome::Accepted
        }
    }

    /// The frame for this playout tick.
    pub fn pop(&mut self, now: Instant) -> Playout {
        let next = match self.state {
            State::Idle | State::Starved { .. } => return Playout::Waiting,
            State::Priming { start, .. } if now < start => return Playout::Waiting,
            State::Priming { next, .. } => {
                let Some(first) = self.held.keys().next().copied() else {
                    return Playout::Waiting;
                };
                // After an underrun, packets the sender sent on resuming follow on from `next`;
                // a first start takes the earliest held.
                next.map_or(first, |n| n.min(first))
            }
            State::Playing { next } => next,
        };
        if let Some(packet) = self.held.remove(&next) {
            self.state = State::Playing { next: next + 1 };
            return Playout::Packet(packet);
        }
        match self.held.keys().next().copied() {
            None => {
                self.stats.underrun += 1;
                self.state = State::Starved { next };
                Playout::Waiting
            }
            Some(first) => {
                self.stats.lost += 1;
                // A gap wider than anything we could hold is a burst loss: resume at the first
                // packet held rather than reporting each missing one.
                let gap = first.saturating_sub(next);
                let resume = if gap > self.config.capacity as u64 {
                    first
                } else {
                    next + 1
                };
                self.state = State::Playing { next: resume };
                Playout::Lost { extended: next }
            }
        }
    }

    fn flush(&mut self) {
        self.held.clear();
        self.counter = SequenceCounter::new();
        self.state = State::Idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(20);

    fn packet(sequence: u16, payload: &[u8]) -> Packet<'_> {
        Packet::new(0, sequence, u32::from(sequence) * 160, 0xABCD, payload)
    }

    fn played(out: &Playout) -> Option<u8> {
        match out {
            Playout::Packet(b) => b.payload.first().copied(),
            _ => None,
        }
    }

    #[test]
    fn waits_for_the_cushion_then_plays_in_order() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        assert_eq!(jb.pop(t0), Playout::Waiting);
        assert_eq!(jb.push(&packet(10, &[10]), t0), PushOutcome::Accepted);
        // Reordered on the way: 12 before 11.
        jb.push(&packet(12, &[12]), t0 + Duration::from_millis(5));
        jb.push(&packet(11, &[11]), t0 + Duration::from_millis(25));
        assert_eq!(jb.pop(t0 + TICK), Playout::Waiting, "cushion is 40 ms");
        let outs: Vec<Option<u8>> = (2..5).map(|i| played(&jb.pop(t0 + TICK * i))).collect();
        assert_eq!(outs, vec![Some(10), Some(11), Some(12)]);
        assert_eq!(jb.stats().accepted, 3);
    }

    #[test]
    fn a_missing_packet_is_lost_once_later_ones_wait() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push(&packet(1, &[1]), t0);
        jb.push(&packet(3, &[3]), t0);
        let start = t0 + Duration::from_millis(40);
        assert_eq!(played(&jb.pop(start)), Some(1));
        assert_eq!(
            jb.pop(start + TICK),
            Playout::Lost {
                extended: (1 << 16) + 2
            }
        );
        assert_eq!(played(&jb.pop(start + TICK * 2)), Some(3));
        // 2 arriving now is late: its frame was already concealed.
        assert_eq!(
            jb.push(&packet(2, &[2]), start + TICK * 2),
            PushOutcome::Late
        );
        assert_eq!(jb.stats().lost, 1);
        assert_eq!(jb.stats().late, 1);
    }

    #[test]
    fn duplicates_are_dropped() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push(&packet(7, &[7]), t0);
        assert_eq!(jb.push(&packet(7, &[7]), t0), PushOutcome::Duplicate);
        assert_eq!(jb.len(), 1);
    }

    #[test]
    fn an_underrun_primes_again_and_continues_the_sequence() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push(&packet(100, &[100]), t0);
        let start = t0 + Duration::from_millis(40);
        assert_eq!(played(&jb.pop(start)), Some(100));
        // The sender goes silent for a while (silence suppression).
        for i in 1..10 {
            assert_eq!(jb.pop(start + TICK * i), Playout::Waiting);
        }
        assert_eq!(jb.stats().underrun, 1, "one underrun, not one per tick");
        // It resumes with the next number; the cushion is rebuilt before it plays.
        let resume = start + TICK * 10;
        assert_eq!(jb.push(&packet(101, &[101]), resume), PushOutcome::Accepted);
        assert_eq!(jb.pop(resume + TICK), Playout::Waiting);
        assert_eq!(played(&jb.pop(resume + TICK * 2)), Some(101));
    }

    #[test]
    fn playout_crosses_the_sequence_wrap() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        for (i, seq) in [0xFFFEu16, 0x0000, 0xFFFF, 0x0001].iter().enumerate() {
            jb.push(&packet(*seq, &[i as u8]), t0);
        }
        let start = t0 + Duration::from_millis(40);
        let outs: Vec<Option<u8>> = (0..4).map(|i| played(&jb.pop(start + TICK * i))).collect();
        assert_eq!(outs, vec![Some(0), Some(2), Some(1), Some(3)]);
    }

    #[test]
    fn a_new_ssrc_or_a_jump_flushes_and_restarts() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push(&packet(5, &[5]), t0);
        jb.push(&packet(6, &[6]), t0);
        let mut other = packet(900, &[9]);
        other.ssrc = 0x1234;
        assert_eq!(jb.push(&other, t0 + TICK), PushOutcome::Restarted);
        assert_eq!(jb.len(), 1);
        assert_eq!(jb.pop(t0 + TICK * 2), Playout::Waiting, "primes again");
        assert_eq!(played(&jb.pop(t0 + TICK * 3)), Some(9));
        let mut jump = packet(40_000, &[4]);
        jump.ssrc = 0x1234;
        assert_eq!(jb.push(&jump, t0 + TICK * 3), PushOutcome::Restarted);
        assert_eq!(played(&jb.pop(t0 + TICK * 5)), Some(4));
    }

    #[test]
    fn a_full_buffer_drops_the_oldest() {
        let t0 = Instant::now();
        let config = JitterConfig {
            delay: Duration::from_millis(40),
            capacity: 3,
        };
        let mut jb = JitterBuffer::new(config);
        for seq in 1..=5u16 {
            jb.push(&packet(seq, &[seq as u8]), t0);
        }
        assert_eq!(jb.len(), 3);
        assert_eq!(jb.stats().overflow, 2);
        assert_eq!(played(&jb.pop(t0 + TICK * 2)), Some(3));
    }

    #[test]
    fn a_burst_loss_resumes_at_the_first_packet_held() {
        let t0 = Instant::now();
        let config = JitterConfig {
            delay: Duration::from_millis(40),
            capacity: 4,
        };
        let mut jb = JitterBuffer::new(config);
        jb.push(&packet(1, &[1]), t0);
        let start = t0 + TICK * 2;
        assert_eq!(played(&jb.pop(start)), Some(1));
        jb.push(&packet(50, &[50]), start);
        assert!(matches!(jb.pop(start + TICK), Playout::Lost { .. }));
        assert_eq!(played(&jb.pop(start + TICK * 2)), Some(50));
    }
}
