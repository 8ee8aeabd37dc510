//! callcomp's media plane: RTP endpoints that play tones and announcements, relay two
//! parties, or mix N of them (DESIGN §3, issue #10; docs/media.md).
//!
//! The work runs on its own thread ([`thread`]), off the signalling core: every 20 ms it reads
//! each endpoint's socket into a jitter buffer, decodes one G.711 frame per endpoint, works out
//! what each endpoint should hear (a prompt, the relayed peer, a mix) and sends it. The core
//! drives it through a [`MediaHandle`] by commands that never block: opening an endpoint binds
//! its sockets and negotiates SDP (RFC 3264) right in the caller, so the SDP is at hand at once,
//! and the sockets are handed to the media thread with the command.
//!
//! - [`ports`]: the RTP port pairs of `media.rtp_ports`;
//! - [`sounds`]: the tones of the configured country and the announcements (WAV);
//! - [`playback`]: a queue of prompts played frame by frame;
//! - [`endpoint`]: one RTP endpoint: its sockets, what it receives, what it sends;
//! - [`guard`]: where RTP may be sent (refused with 488 otherwise) and whose RTP is taken;
//! - [`engine`]: the endpoints and mixes, commands applied, one tick of media;
//! - [`thread`]: the media thread and its 20 ms clock.

pub mod endpoint;
pub mod engine;
pub mod guard;
pub mod playback;
pub mod ports;
pub mod sounds;
pub mod thread;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use callcomp_media::offer_answer::{self, Answer, Codec, LocalMedia, Negotiated, OfferAnswerError};
use callcomp_media::sdp::{Direction, SessionDescription};
use thiserror::Error;

pub use engine::MediaEvent;
pub use ports::PortPool;
pub use sounds::{Sounds, SoundsError, BUILTIN_CHIME};
pub use thread::{spawn, unthreaded, MediaThread, Unthreaded};

use endpoint::Sockets;
use guard::PeerGuard;

/// Names an RTP endpoint of the media plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(pub u64);

/// Names a mix (a conference of endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MixId(pub u64);

/// A tone of the configured tone plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneKind {
    /// The callee's phone is ringing.
    Ringback,
    /// The callee is busy, or did not answer.
    Busy,
    /// Something was accepted.
    Confirmation,
    /// Someone joins the call.
    Warning,
}

/// Something to play to an endpoint (or over a mix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// A tone; a repeating tone (ringback, busy) plays until replaced.
    Tone(ToneKind),
    /// An announcement by name (`media.announcements`, or the built-in `chime`).
    Announcement(String),
}

/// Why the media plane could not do something asked of it.
#[derive(Debug, Error)]
pub enum MediaError {
    /// Every RTP port pair of the range is taken.
    #[error("no free RTP port pair in {range}")]
    NoPort {
        /// The configured range.
        range: crate::config::media::PortRange,
    },
    /// The offer or answer cannot be used (answer 488).
    #[error(transparent)]
    OfferAnswer(#[from] OfferAnswerError),
    /// The SDP asks callcomp to send RTP where it must not (answer 488; see [`guard`]).
    #[error("RTP to {to} refused: {reason}")]
    Destination {
        /// Where the SDP said to send.
        to: SocketAddr,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl MediaError {
    /// The SIP status to refuse the offer with: 488 for SDP, 503 when out of ports.
    pub fn status(&self) -> u16 {
        match self {
            MediaError::NoPort { .. } => 503,
            MediaError::OfferAnswer(e) => e.status(),
            MediaError::Destination { .. } => 488,
        }
    }
}

/// One endpoint as its owner (a call) sees it: its id and our side of the SDP, which every
/// later offer or answer of the dialog builds on (the `o=` line's version goes up, RFC 3264 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The endpoint.
    pub id: EndpointId,
    /// Our address, port, codecs and `o=` line.
    pub local: LocalMedia,
}

/// A command to the media thread.
#[derive(Debug)]
pub enum Command {
    /// A new endpoint, its sockets bound; `remote` when its SDP was answered already.
    Open {
        /// The endpoint.
        id: EndpointId,
        /// Its RTP and RTCP sockets.
        sockets: Sockets,
        /// What was negotiated, if anything yet.
        remote: Option<Negotiated>,
    },
    /// What the other side answered or offered anew.
    SetRemote {
        /// The endpoint.
        id: EndpointId,
        /// The stream agreed.
        remote: Negotiated,
    },
    /// Plays prompts in order (replacing what the endpoint heard); an empty list stops.
    Play {
        /// The endpoint.
        id: EndpointId,
        /// What to play.
        prompts: Vec<Prompt>,
    },
    /// Each of the two hears the other.
    Relay {
        /// One side.
        a: EndpointId,
        /// The other.
        b: EndpointId,
    },
    /// The endpoint joins a mix (created on first use): it hears the others of the mix.
    Join {
        /// The mix.
        mix: MixId,
        /// The endpoint.
        id: EndpointId,
    },
    /// Plays prompts over a mix, heard by every party (e.g. the warning tone).
    PlayOverMix {
        /// The mix.
        mix: MixId,
        /// What to play.
        prompts: Vec<Prompt>,
    },
    /// Closes an endpoint: its sockets are released, a relay partner hears nothing, a mix
    /// goes on without it.
    Close {
        /// The endpoint.
        id: EndpointId,
    },
}

/// Drives the media thread; cheap to clone. Every method returns at once: commands are queued
/// and applied at the thread's next tick (or sooner), and nothing here waits for the thread.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    commands: mpsc::Sender<Command>,
    ports: PortPool,
    address: IpAddr,
    guard: Arc<PeerGuard>,
    next_id: Arc<AtomicU64>,
}

impl MediaHandle {
    fn new(commands: mpsc::Sender<Command>, config: &crate::config::MediaConfig) -> Self {
        MediaHandle {
            commands,
            ports: PortPool::new(config.rtp_ports),
            address: config.address,
            guard: Arc::new(PeerGuard::new(
                config.address,
                config.rtp_ports,
                config.peers.clone(),
            )),
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Opens an endpoint answering a phone's `offer` (RFC 3264 §6): the answer to send, and
    /// the endpoint, already receiving and ready to send.
    pub fn answer(&self, offer: &SessionDescription) -> Result<(Endpoint, Answer), MediaError> {
        let (endpoint, sockets) = self.bind()?;
        let answer = offer_answer::answer(offer, &endpoint.local)?;
        // Refused: the sockets drop here, which frees the port pair.
        self.guard.check(&answer.stream)?;
        self.send(Command::Open {
            id: endpoint.id,
            sockets,
            remote: Some(answer.stream.clone()),
        });
        Ok((endpoint, answer))
    }

    /// Opens an endpoint with our own offer (RFC 3264 §5), for an INVITE or re-INVITE; the
    /// answer goes to [`accept_answer`](Self::accept_answer).
    pub fn offer(&self) -> Result<(Endpoint, SessionDescription), MediaError> {
        let (endpoint, sockets) = self.bind()?;
        let sdp = offer_answer::offer(&endpoint.local);
        self.send(Command::Open {
            id: endpoint.id,
            sockets,
            remote: None,
        });
        Ok((endpoint, sdp))
    }

    /// Reads the answer to our offer and starts sending to it.
    pub fn accept_answer(
        &self,
        endpoint: &Endpoint,
        answer: &SessionDescription,
    ) -> Result<Negotiated, MediaError> {
        let remote = offer_answer::accept_answer(&endpoint.local, answer)?;
        self.guard.check(&remote)?;
        self.send(Command::SetRemote {
            id: endpoint.id,
            remote: remote.clone(),
        });
        Ok(remote)
    }

    /// Answers a new offer on an existing endpoint (a re-INVITE from the phone, RFC 3264 §8):
    /// the answer keeps our port and raises our `o=` version.
    pub fn answer_again(
        &self,
        endpoint: &mut Endpoint,
        offer: &SessionDescription,
    ) -> Result<Answer, MediaError> {
        let mut local = endpoint.local.clone();
        local.session_version += 1;
        let answer = offer_answer::answer(offer, &local)?;
        // Refused: the endpoint keeps what it had, and the re-INVITE gets 488 (RFC 3261 §14.2).
        self.guard.check(&answer.stream)?;
        endpoint.local = local;
        self.send(Command::SetRemote {
            id: endpoint.id,
            remote: answer.stream.clone(),
        });
        Ok(answer)
    }

    /// A new offer on an existing endpoint (our re-INVITE, RFC 3264 §8), e.g. to hold
    /// (`Direction::SendOnly`) or resume.
    pub fn offer_again(&self, endpoint: &mut Endpoint, direction: Direction) -> SessionDescription {
        endpoint.local.session_version += 1;
        endpoint.local.direction = direction;
        offer_answer::offer(&endpoint.local)
    }

    /// Plays `prompts` to the endpoint in order, replacing what it heard.
    pub fn play(&self, id: EndpointId, prompts: Vec<Prompt>) {
        self.send(Command::Play { id, prompts });
    }

    /// Joins two endpoints: each hears the other (an anchored two-party call).
    pub fn relay(&self, a: EndpointId, b: EndpointId) {
        self.send(Command::Relay { a, b });
    }

    /// A new mix id; the mix exists once an endpoint joins it.
    pub fn new_mix(&self) -> MixId {
        MixId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Puts the endpoint in the mix: it hears the sum of the other parties.
    pub fn join(&self, mix: MixId, id: EndpointId) {
        self.send(Command::Join { mix, id });
    }

    /// Plays prompts over a mix, heard by all its parties.
    pub fn play_over_mix(&self, mix: MixId, prompts: Vec<Prompt>) {
        self.send(Command::PlayOverMix { mix, prompts });
    }

    /// Closes the endpoint and frees its ports.
    pub fn close(&self, id: EndpointId) {
        self.send(Command::Close { id });
    }

    fn bind(&self) -> Result<(Endpoint, Sockets), MediaError> {
        let sockets = self.ports.bind(self.address).ok_or(MediaError::NoPort {
            range: self.ports.range(),
        })?;
        let id = EndpointId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let endpoint = Endpoint {
            id,
            local: LocalMedia {
                address: self.address.to_string(),
                port: sockets.port(),
                codecs: vec![Codec::Pcmu, Codec::Pcma],
                telephone_event: true,
                direction: Direction::SendRecv,
                session_id: id.0,
                session_version: 1,
            },
        };
        Ok((endpoint, sockets))
    }

    fn send(&self, command: Command) {
        // The thread stops only at shutdown, after the core; a command then has nobody to act.
        if self.commands.send(command).is_err() {
            tracing::debug!("media thread stopped; command dropped");
        }
    }
}

#[cfg(test)]
mod tests;
