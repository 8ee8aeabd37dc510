//! `[media]`: callcomp's own RTP endpoints (recall progress tones, announcements, mixing).
//!
//! The keys are read here; `super::validate` checks ranges and names; the runtime that uses
//! them is `crate::media`. See docs/config.md and docs/media.md.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::str::FromStr;

use super::cidr::Cidr;
use callcomp_media::tone::{Country, Tone, ToneSet};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `[media]`: where callcomp's RTP endpoints live and what they play.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// The IP address RTP sockets bind to and SDP advertises (`c=`); not unspecified.
    pub address: IpAddr,
    /// The UDP ports RTP may use, `"FIRST-LAST"`; each endpoint takes an even port (RTP)
    /// and the odd one above it (reserved for RTCP, whose packets are read and dropped).
    pub rtp_ports: PortRange,
    /// The tone plan: `us`, `uk` or `eu`.
    pub country: CountryCode,
    /// Tones that replace the country's presets, by name.
    pub tones: ToneOverrides,
    /// Announcement WAV files (8 kHz mono; 16-bit PCM, µ-law or A-law), by name. A name given
    /// here replaces the built-in one of that name (`chime`).
    pub announcements: BTreeMap<String, PathBuf>,
    /// The announcement a recalled caller hears before ringback; unset: ringback at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_announcement: Option<String>,
    /// How a recall's two parties are joined once the callee answers: `anchored` (through
    /// callcomp's endpoints for the whole call) or `direct` (re-INVITEd to each other, staying
    /// anchored if either refuses). See docs/media.md.
    pub recall_join: RecallJoin,
    /// Whose RTP an endpoint takes: `negotiated` (the address and port it sends to) or `host`
    /// (any port of that host). Anything else is dropped and counted. See docs/media.md.
    pub rtp_source: RtpSource,
    /// Where callcomp may send RTP, as address blocks; empty: any unicast address. An SDP
    /// naming another address is refused with 488.
    pub peers: Vec<Cidr>,
}

impl Default for MediaConfig {
    fn default() -> MediaConfig {
        MediaConfig {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            rtp_ports: PortRange {
                first: 20000,
                last: 20999,
            },
            country: CountryCode::Eu,
            tones: ToneOverrides::default(),
            announcements: BTreeMap::new(),
            recall_announcement: None,
            recall_join: RecallJoin::Anchored,
            rtp_source: RtpSource::Negotiated,
            peers: Vec::new(),
        }
    }
}

impl MediaConfig {
    /// The tones to play: the country's presets with the overrides applied.
    pub fn tone_set(&self) -> ToneSet {
        let mut set = self.country.country().tones();
        let o = &self.tones;
        for (slot, custom) in [
            (&mut set.ringback, &o.ringback),
            (&mut set.busy, &o.busy),
            (&mut set.confirmation, &o.confirmation),
            (&mut set.warning, &o.warning),
        ] {
            if let Some(custom) = custom {
                *slot = custom.tone();
            }
        }
        set
    }
}

/// `media.rtp_ports`: an inclusive range of UDP ports, written `"20000-20999"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// The lowest port.
    pub first: u16,
    /// The highest port.
    pub last: u16,
}

impl PortRange {
    /// The even ports of the range whose odd neighbour is in it too: the RTP ports.
    pub fn rtp_ports(self) -> impl Iterator<Item = u16> + Clone {
        let start = self.first + (self.first & 1);
        (start..self.last).step_by(2)
    }

    /// How many endpoints the range holds.
    pub fn endpoints(self) -> usize {
        self.rtp_ports().count()
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid port range `{s}`: write \"FIRST-LAST\", e.g. \"20000-20999\"");
        let (first, last) = s.split_once('-').ok_or_else(bad)?;
        let first = first.trim().parse::<u16>().map_err(|_| bad())?;
        let last = last.trim().parse::<u16>().map_err(|_| bad())?;
        Ok(PortRange { first, last })
    }
}

impl Serialize for PortRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `media.recall_join`: how a recall's two parties are joined when the callee answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecallJoin {
    /// Through callcomp's two endpoints, relayed to each other, for the whole call.
    Anchored,
    /// Anchored first, then both parties re-INVITEd to each other and the endpoints closed;
    /// anchored still when either refuses.
    Direct,
}

/// `media.rtp_source`: which datagrams an endpoint takes as the other side's RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtpSource {
    /// Only from the address and port the endpoint sends to (symmetric RTP).
    Negotiated,
    /// From any port of the host the endpoint sends to.
    Host,
}

/// `media.country`: a tone plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CountryCode {
    /// United States (precise tone plan).
    Us,
    /// United Kingdom.
    Uk,
    /// CEPT countries (425 Hz).
    Eu,
}

impl CountryCode {
    /// The media crate's country.
    pub fn country(self) -> Country {
        match self {
            CountryCode::Us => Country::Us,
            CountryCode::Uk => Country::Uk,
            CountryCode::Eu => Country::Eu,
        }
    }
}

/// `[media.tones]`: tones replacing the country's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToneOverrides {
    /// Heard while the callee's phone rings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringback: Option<ToneConfig>,
    /// Heard when the callee is busy or does not answer a recall.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy: Option<ToneConfig>,
    /// Heard when something was accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<ToneConfig>,
    /// Heard by the parties of an intruded call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<ToneConfig>,
}

impl ToneOverrides {
    /// The overrides given, by key name.
    pub fn given(&self) -> impl Iterator<Item = (&'static str, &ToneConfig)> {
        [
            ("ringback", &self.ringback),
            ("busy", &self.busy),
            ("confirmation", &self.confirmation),
            ("warning", &self.warning),
        ]
        .into_iter()
        .filter_map(|(name, t)| t.as_ref().map(|t| (name, t)))
    }
}

/// One tone: `{ frequencies = [425], cadence_ms = [1000, 4000], level_dbm0 = -13 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToneConfig {
    /// Frequencies in Hz, summed (1 to 3999).
    pub frequencies: Vec<u16>,
    /// Milliseconds on, off, on, off…
    pub cadence_ms: Vec<u32>,
    /// Level of each frequency in dBm0 (at most +3).
    #[serde(default = "default_level")]
    pub level_dbm0: i8,
    /// Start again after the cadence (ringback, busy) or play it once.
    #[serde(default = "default_repeat")]
    pub repeat: bool,
}

fn default_level() -> i8 {
    -13
}

fn default_repeat() -> bool {
    true
}

impl ToneConfig {
    /// The tone it describes.
    pub fn tone(&self) -> Tone {
        Tone::cadence(
            &self.frequencies,
            &self.cadence_ms,
            self.level_dbm0,
            self.repeat,
        )
    }
}
