//! The media plane's state: every endpoint and mix, the commands that change them, and one
//! 20 ms tick of media. No clock and no thread here: [`MediaEngine::tick`] takes the time, so
//! the thread (`super::thread`) and the benchmark drive the same code.
//!
//! A tick: (1) every endpoint reads its socket and plays out one packet (what it "heard");
//! (2) every mix sums what its parties heard, each party getting the sum of the others plus the
//! mix's overlay prompt; (3) every endpoint sends what its source gives it: its prompt, its
//! relay partner's frame (and telephone-events), or its mix output.

use std::collections::HashMap;
use std::time::Instant;

use callcomp_media::mixer::{Mixer, PartyId};
use callcomp_media::Frame;

use super::endpoint::{RtpEndpoint, Source, MAX_DATAGRAM};
use super::playback::Player;
use super::sounds::Sounds;
use super::{Command, EndpointId, MixId};
use crate::config::media::RtpSource;

/// What the media plane tells the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A DTMF key pressed on the endpoint's phone (RFC 4733), reported once per key.
    Dtmf {
        /// The endpoint.
        endpoint: EndpointId,
        /// The key: `0`-`9`, `*`, `#`, `A`-`D`.
        key: char,
    },
    /// The prompts played to the endpoint have all played (a repeating tone never ends).
    Played {
        /// The endpoint.
        endpoint: EndpointId,
    },
}

/// The endpoints and mixes of the media plane.
#[derive(Debug)]
pub struct MediaEngine {
    sounds: Sounds,
    rtp_source: RtpSource,
    endpoints: Vec<RtpEndpoint>,
    index: HashMap<EndpointId, usize>,
    mixes: HashMap<MixId, Mix>,
    events: Vec<MediaEvent>,
    datagram: Vec<u8>,
    packet: Vec<u8>,
    ticks: u64,
}

/// RTCP sockets are emptied every this many ticks (one second).
const RTCP_DRAIN_TICKS: u64 = 50;

#[derive(Debug, Default)]
struct Mix {
    mixer: Mixer,
    overlay: Option<Player>,
}

impl MediaEngine {
    /// No endpoints yet.
    /// `rtp_source`: whose datagrams an endpoint takes (`media.rtp_source`).
    pub fn new(sounds: Sounds, rtp_source: RtpSource) -> Self {
        MediaEngine {
            sounds,
            rtp_source,
            endpoints: Vec::new(),
            index: HashMap::new(),
            mixes: HashMap::new(),
            events: Vec::new(),
            datagram: vec![0; MAX_DATAGRAM],
            packet: Vec::with_capacity(MAX_DATAGRAM),
            ticks: 0,
        }
    }

    /// Endpoints open.
    pub fn endpoints(&self) -> usize {
        self.endpoints.len()
    }

    /// Mixes with at least one party.
    pub fn mixes(&self) -> usize {
        self.mixes.len()
    }

    /// An endpoint's state, for tests and metrics.
    pub fn endpoint(&self, id: EndpointId) -> Option<&RtpEndpoint> {
        self.index.get(&id).map(|&i| &self.endpoints[i])
    }

    /// Applies one command.
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::Open {
                id,
                sockets,
                remote,
            } => {
                self.index.insert(id, self.endpoints.len());
                self.endpoints
                    .push(RtpEndpoint::new(id, sockets, remote, self.rtp_source));
            }
            Command::SetRemote { id, remote } => {
                if let Some(endpoint) = self.get_mut(id) {
                    endpoint.set_remote(remote);
                }
            }
            Command::Play { id, prompts } => {
                let source = if prompts.is_empty() {
                    Source::Idle
                } else {
                    Source::Play(Player::new(&prompts, &self.sounds))
                };
                self.set_source(id, source);
            }
            Command::Relay { a, b } => {
                self.set_source(a, Source::Relay(b));
                self.set_source(b, Source::Relay(a));
            }
            Command::Join { mix, id } => {
                if self.index.contains_key(&id) {
                    self.set_source(id, Source::Mix(mix));
                    let joined = self.mixes.entry(mix).or_default().mixer.join(PartyId(id.0));
                    if let Err(e) = joined {
                        tracing::debug!(error = %e, "media: join");
                    }
                }
            }
            Command::PlayOverMix { mix, prompts } => {
                if let Some(mix) = self.mixes.get_mut(&mix) {
                    mix.overlay = Some(Player::new(&prompts, &self.sounds));
                }
            }
            Command::Close { id } => self.close(id),
        }
    }

    /// One tick of media at `now`; returns what happened that the core should know.
    pub fn tick(&mut self, now: Instant) -> std::vec::Drain<'_, MediaEvent> {
        let MediaEngine {
            endpoints,
            index,
            mixes,
            events,
            datagram,
            packet,
            ticks,
            ..
        } = self;
        *ticks += 1;
        let drain_rtcp = *ticks % RTCP_DRAIN_TICKS == 0;
        for endpoint in endpoints.iter_mut() {
            if let Some(key) = endpoint.receive(now, datagram, drain_rtcp) {
                events.push(MediaEvent::Dtmf {
                    endpoint: endpoint.id,
                    key,
                });
            }
        }
        for mix in mixes.values_mut() {
            mix_one(mix, endpoints, index);
        }
        for i in 0..endpoints.len() {
            let relay_peer = match endpoints[i].source {
                Source::Relay(peer) => Some(peer),
                _ => None,
            };
            let (frame, event) = match relay_peer {
                Some(peer) => match index.get(&peer) {
                    Some(&p) => (endpoints[p].heard, endpoints[p].event),
                    None => (None, None),
                },
                None => (own_frame(&mut endpoints[i], events), None),
            };
            let endpoint = &mut endpoints[i];
            if let Some(event) = event {
                endpoint.send_event(&event, packet);
            }
            endpoint.send(frame.as_ref(), packet);
        }
        events.drain(..)
    }

    fn get_mut(&mut self, id: EndpointId) -> Option<&mut RtpEndpoint> {
        let i = *self.index.get(&id)?;
        Some(&mut self.endpoints[i])
    }

    /// Gives an endpoint a new source, taking it out of its mix first.
    fn set_source(&mut self, id: EndpointId, source: Source) {
        let Some(&i) = self.index.get(&id) else {
            return;
        };
        if let Source::Mix(mix) = self.endpoints[i].source {
            self.leave(mix, id);
        }
        self.endpoints[i].source = source;
    }

    fn leave(&mut self, mix: MixId, id: EndpointId) {
        if let Some(m) = self.mixes.get_mut(&mix) {
            let _ = m.mixer.leave(PartyId(id.0));
            if m.mixer.parties().is_empty() {
                self.mixes.remove(&mix);
            }
        }
    }

    fn close(&mut self, id: EndpointId) {
        let Some(i) = self.index.remove(&id) else {
            return;
        };
        if let Source::Mix(mix) = self.endpoints[i].source {
            self.leave(mix, id);
        }
        self.endpoints.swap_remove(i);
        if let Some(moved) = self.endpoints.get(i) {
            self.index.insert(moved.id, i);
        }
    }
}

/// The frame an endpoint that is not relayed hears this tick: its prompt or its mix.
fn own_frame(endpoint: &mut RtpEndpoint, events: &mut Vec<MediaEvent>) -> Option<Frame> {
    match &mut endpoint.source {
        Source::Idle | Source::Relay(_) => None,
        Source::Mix(_) => endpoint.mixed.take(),
        Source::Play(player) => {
            let frame = player.next_frame();
            if frame.is_none() {
                endpoint.source = Source::Idle;
                events.push(MediaEvent::Played {
                    endpoint: endpoint.id,
                });
            }
            frame
        }
    }
}

/// Mixes one tick of one mix into its parties' `mixed` frames.
fn mix_one(mix: &mut Mix, endpoints: &mut [RtpEndpoint], index: &HashMap<EndpointId, usize>) {
    for i in 0..mix.mixer.parties().len() {
        let party = mix.mixer.parties()[i];
        let heard = index
            .get(&EndpointId(party.0))
            .and_then(|&e| endpoints[e].heard);
        if let Some(frame) = heard {
            let _ = mix.mixer.set_input(party, &frame);
        }
    }
    let overlay: Option<Frame> = mix.overlay.as_mut().and_then(Player::next_frame);
    if overlay.is_none() {
        mix.overlay = None;
    }
    for (party, frame) in mix.mixer.mix(overlay.as_ref()) {
        if let Some(&i) = index.get(&EndpointId(party.0)) {
            endpoints[i].mixed = Some(*frame);
        }
    }
}
