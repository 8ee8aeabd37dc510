//! One RTP endpoint: its UDP sockets, the stream it receives and the stream it sends.
//!
//! Receiving (RFC 3550 §5.1, RFC 3551 §4.5.14, RFC 4733): a datagram from a source other than
//! the negotiated one is dropped and counted (`media.rtp_source`, [`super::guard`]); the rest
//! are parsed; packets of the negotiated payload types go into the jitter buffer (telephone-events
//! too, as they share the sender's sequence numbers), anything else is dropped and counted.
//! Once per tick one packet is played out: audio is decoded into the frame the endpoint
//! "heard"; a telephone-event is kept for a relay partner (passed on) and its end reported
//! once as a DTMF key (consumed). Datagrams on the RTCP socket are read and dropped: callcomp
//! sends no RTCP reports (docs/media.md).
//!
//! Sending: one packet per tick when there is something to send, 160 samples in the
//! negotiated law, our own SSRC and sequence numbers; the timestamp advances 160 every tick
//! whether or not a packet went out, so a pause keeps real time (§5.1), and the first packet
//! after a pause has the marker bit (RFC 3551 §4.1).

use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

use callcomp_media::jitter::{JitterBuffer, JitterConfig, Playout};
use callcomp_media::offer_answer::Negotiated;
use callcomp_media::rtp::Packet;
use callcomp_media::telephone_event::{TelephoneEvent, EVENT_LEN};
use callcomp_media::{Frame, FRAME_SAMPLES};

use super::guard;
use super::playback::Player;
use super::{EndpointId, MixId};
use crate::config::media::RtpSource;

/// Most datagrams read from one socket in one tick: a sender far ahead of our clock is
/// bounded here and by the jitter buffer's capacity.
const MAX_READS_PER_TICK: usize = 32;

/// The largest datagram read; RTP of 20 ms G.711 is 172 octets.
pub const MAX_DATAGRAM: usize = 1500;

/// An endpoint's bound RTP and RTCP sockets (non-blocking).
#[derive(Debug)]
pub struct Sockets {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    port: u16,
}

impl Sockets {
    /// Wraps a bound pair; `port` is the RTP socket's.
    pub fn new(rtp: UdpSocket, rtcp: UdpSocket, port: u16) -> Self {
        Sockets { rtp, rtcp, port }
    }

    /// The RTP port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// What an endpoint hears.
#[derive(Debug, Clone, Default)]
pub enum Source {
    /// Nothing: no packets are sent.
    #[default]
    Idle,
    /// Prompts (tones, announcements).
    Play(Player),
    /// The other endpoint of a two-party relay.
    Relay(EndpointId),
    /// The other parties of a mix.
    Mix(MixId),
}

/// A telephone-event played out this tick, to pass on to a relay partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedEvent {
    /// The sender's timestamp of the event (the same for every packet of one event).
    pub timestamp: u32,
    /// The event's payload.
    pub event: TelephoneEvent,
}

/// Counters of one endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// RTP packets received and accepted for playout.
    pub received: u64,
    /// Datagrams that were not RTP or not of a negotiated payload type.
    pub dropped: u64,
    /// Datagrams from a source other than the negotiated one (`media.rtp_source`), dropped.
    pub foreign: u64,
    /// RTP packets sent.
    pub sent: u64,
}

/// One endpoint's state on the media thread.
#[derive(Debug)]
pub struct RtpEndpoint {
    /// The endpoint's id.
    pub id: EndpointId,
    sockets: Sockets,
    remote: Option<Negotiated>,
    rtp_source: RtpSource,
    jitter: JitterBuffer,
    /// What it hears.
    pub source: Source,
    /// What it received this tick, decoded.
    pub heard: Option<Frame>,
    /// The telephone-event it received this tick.
    pub event: Option<ReceivedEvent>,
    /// What a mix gave it to hear this tick.
    pub mixed: Option<Frame>,
    last_key_timestamp: Option<u32>,
    sender: Sender,
    stats: EndpointStats,
}

#[derive(Debug)]
struct Sender {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    /// The next packet starts a talkspurt.
    marker: bool,
    /// The last relayed event: its timestamp as received and as sent.
    event_timestamps: Option<(u32, u32)>,
}

impl RtpEndpoint {
    /// An endpoint on `sockets`, sending to `remote` once known and taking datagrams from the
    /// sources `rtp_source` allows.
    pub fn new(
        id: EndpointId,
        sockets: Sockets,
        remote: Option<Negotiated>,
        rtp_source: RtpSource,
    ) -> Self {
        RtpEndpoint {
            id,
            sockets,
            remote,
            rtp_source,
            jitter: JitterBuffer::new(JitterConfig::default()),
            source: Source::Idle,
            heard: None,
            event: None,
            mixed: None,
            last_key_timestamp: None,
            sender: Sender {
                ssrc: rand::random(),
                sequence: rand::random(),
                timestamp: rand::random(),
                marker: true,
                event_timestamps: None,
            },
            stats: EndpointStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// The RTP port.
    pub fn port(&self) -> u16 {
        self.sockets.port
    }

    /// The stream agreed with the other side (a new offer or answer replaces it).
    pub fn set_remote(&mut self, remote: Negotiated) {
        self.remote = Some(remote);
    }

    /// Reads what arrived and plays out one packet: sets [`heard`](Self::heard) and
    /// [`event`](Self::event); returns the DTMF key whose end was played out, if any.
    /// `drain_rtcp`: also empty the RTCP socket (the engine asks once a second: reports come
    /// every few seconds and are dropped, so a syscall per tick would be wasted).
    pub fn receive(&mut self, now: Instant, buf: &mut [u8], drain_rtcp: bool) -> Option<char> {
        for _ in 0..MAX_READS_PER_TICK {
            if !drain_rtcp || self.sockets.rtcp.recv_from(buf).is_err() {
                break;
            }
        }
        for _ in 0..MAX_READS_PER_TICK {
            let Ok((len, from)) = self.sockets.rtp.recv_from(buf) else {
                break;
            };
            if !guard::accepts(self.rtp_source, self.remote_addr(), from) {
                self.stats.foreign += 1;
                continue;
            }
            self.take(&buf[..len], now);
        }
        self.heard = None;
        self.event = None;
        let Playout::Packet(packet) = self.jitter.pop(now) else {
            return None;
        };
        let remote = self.remote.as_ref()?;
        if remote.telephone_event == Some(packet.payload_type) {
            let event = TelephoneEvent::parse(&packet.payload).ok()?;
            self.event = Some(ReceivedEvent {
                timestamp: packet.timestamp,
                event,
            });
            // An event's end is sent three times (RFC 4733 §2.5.1.4): report it once.
            if event.end && self.last_key_timestamp != Some(packet.timestamp) {
                self.last_key_timestamp = Some(packet.timestamp);
                return event.dtmf();
            }
            return None;
        }
        let mut frame = [0i16; FRAME_SAMPLES];
        remote.codec.law().decode_into(&packet.payload, &mut frame);
        self.heard = Some(frame);
        None
    }

    /// Sends one frame of audio (when the other side wants our media), and moves our clock
    /// on by one frame either way.
    pub fn send(&mut self, frame: Option<&Frame>, out: &mut Vec<u8>) {
        let sent = match (frame, &self.remote) {
            (Some(frame), Some(remote)) if remote.direction.sends() => {
                let mut payload = [0u8; FRAME_SAMPLES];
                remote.codec.law().encode_into(frame, &mut payload);
                let payload_type = remote.payload_type;
                self.send_packet(payload_type, self.sender.timestamp, &payload, out)
            }
            _ => false,
        };
        self.sender.marker = !sent;
        self.sender.timestamp = self.sender.timestamp.wrapping_add(FRAME_SAMPLES as u32);
    }

    /// Passes on a telephone-event received by the relay partner, in our stream: our
    /// payload type, our timestamp for the event. Dropped when the other side did not
    /// negotiate telephone-events (it was reported as a key already).
    pub fn send_event(&mut self, received: &ReceivedEvent, out: &mut Vec<u8>) {
        let Some(payload_type) = self
            .remote
            .as_ref()
            .filter(|r| r.direction.sends())
            .and_then(|r| r.telephone_event)
        else {
            return;
        };
        let timestamp = match self.sender.event_timestamps {
            Some((theirs, ours)) if theirs == received.timestamp => ours,
            _ => {
                self.sender.event_timestamps = Some((received.timestamp, self.sender.timestamp));
                self.sender.timestamp
            }
        };
        let payload: [u8; EVENT_LEN] = received.event.to_bytes();
        self.send_packet(payload_type, timestamp, &payload, out);
    }

    fn take(&mut self, datagram: &[u8], now: Instant) {
        let Ok(packet) = Packet::parse(datagram) else {
            self.stats.dropped += 1;
            return;
        };
        let wanted = self.remote.as_ref().is_some_and(|r| {
            packet.payload_type == r.payload_type || r.telephone_event == Some(packet.payload_type)
        });
        if !wanted {
            self.stats.dropped += 1;
            return;
        }
        self.jitter.push(&packet, now);
        self.stats.received += 1;
    }

    fn send_packet(
        &mut self,
        payload_type: u8,
        timestamp: u32,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(to) = self.remote_addr() else {
            return false;
        };
        let mut packet = Packet::new(
            payload_type,
            self.sender.sequence,
            timestamp,
            self.sender.ssrc,
            payload,
        );
        packet.marker = self.sender.marker;
        out.clear();
        packet.write(out);
        self.sender.sequence = self.sender.sequence.wrapping_add(1);
        match self.sockets.rtp.send_to(out, to) {
            Ok(_) => {
                self.stats.sent += 1;
                true
            }
            Err(e) => {
                tracing::debug!(endpoint = self.id.0, %to, error = %e, "media: send failed");
                false
            }
        }
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote.as_ref()?.remote.as_ref()?.socket_addr()
    }
}
