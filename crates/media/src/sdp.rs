//! Session descriptions (RFC 4566, SDP): the subset phones send, typed, and everything else kept
//! raw so a description written back says what was received.
//!
//! Typed: `v=` (§5.1), `o=` (§5.2), `s=` (§5.3), `c=` (§5.7), `t=` (§5.9), `m=` (§5.14) and the
//! attributes (§6) `rtpmap`, `fmtp`, `ptime` and the four directions `sendrecv`, `sendonly`,
//! `recvonly`, `inactive` (RFC 3264 §5.1). Any other line (`i=`, `b=`, `k=`…) or attribute is kept
//! in order as [`RawLine`] or [`Attribute::Other`]. Lines end in CRLF on output (§5) and may end
//! in a bare LF on input, as some phones send. Writing puts the typed lines and the raw ones in
//! the order §5 prescribes, so a phone's description, which follows it, writes back unchanged.

use std::fmt;

use thiserror::Error;

/// Why a body is not a session description we accept. `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    /// The body is not UTF-8 text.
    #[error("the session description is not UTF-8 text")]
    NotUtf8,
    /// The first line is not `v=0`.
    #[error("the session description must start with v=0")]
    BadVersion,
    /// A line is not `<letter>=<value>`.
    #[error("line {line} is not of the form <type>=<value>")]
    MalformedLine {
        /// The line number.
        line: usize,
    },
    /// A required session-level line is missing (§5: `o=`, `s=`, `t=` are required).
    #[error("the session description has no {kind}= line")]
    Missing {
        /// The line type.
        kind: char,
    },
    /// A typed line has the wrong number or form of fields.
    #[error("line {line}: malformed {kind}= line")]
    BadField {
        /// The line number.
        line: usize,
        /// The line type.
        kind: char,
    },
    /// A typed attribute (`rtpmap`, `fmtp`, `ptime`) has a malformed value.
    #[error("line {line}: malformed a={name} attribute")]
    BadAttribute {
        /// The line number.
        line: usize,
        /// The attribute name.
        name: &'static str,
    },
}

/// `o=` (§5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The user's login, `-` when none.
    pub username: String,
    /// A numeric session id (kept as text: phones send values beyond 64 bits).
    pub session_id: String,
    /// Increased by the sender on every change of the description (RFC 3264 §8).
    pub session_version: u64,
    /// The address of the machine that made the description.
    pub address: Address,
}

/// A network address as in `o=` and `c=`: `IN IP4 192.0.2.1` (§5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The network type, `IN`.
    pub net_type: String,
    /// The address type, `IP4` or `IP6`.
    pub addr_type: String,
    /// The address (a multicast TTL or count suffix is kept in it as sent).
    pub address: String,
}

impl Address {
    /// `IN IP4 <address>` or `IN IP6 <address>` depending on the address's form.
    pub fn internet(address: &str) -> Self {
        let addr_type = if address.contains(':') { "IP6" } else { "IP4" };
        Address {
            net_type: "IN".into(),
            addr_type: addr_type.into(),
            address: address.into(),
        }
    }

    /// True for `0.0.0.0` / `::`, the RFC 2543 way of putting a stream on hold (RFC 3264 §8.4).
    pub fn is_unspecified(&self) -> bool {
        self.address == "0.0.0.0" || self.address == "::"
    }
}

/// `t=` (§5.9): start and stop as NTP seconds, `0 0` for an unbounded session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    /// Start time, 0 for "now".
    pub start: u64,
    /// Stop time, 0 for unbounded.
    pub stop: u64,
}

/// The direction of a stream, from the describer's side (RFC 3264 §5.1, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sends and receives (the default when no direction attribute is present).
    SendRecv,
    /// Only sends (the other side is put on hold by this one).
    SendOnly,
    /// Only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction from an attribute name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// True when the describer sends.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// True when the describer receives.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction with `sends` and `receives` as given.
    pub fn from_flags(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The same stream seen from the other side: sendonly ↔ recvonly.
    pub fn reversed(self) -> Self {
        Direction::from_flags(self.receives(), self.sends())
    }
}

/// An attribute line `a=` (§5.13, §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]` (§6).
    Rtpmap {
        /// The payload type it names.
        payload_type: u8,
        /// The encoding name, case as sent (compare case-insensitively, RFC 4855 §3).
        encoding: String,
        /// The RTP clock rate.
        clock_rate: u32,
        /// For audio, the channel count.
        params: Option<String>,
    },
    /// `a=fmtp:<format> <format specific parameters>` (§6).
    Fmtp {
        /// The format it applies to.
        format: String,
        /// The parameters, unparsed.
        params: String,
    },
    /// `a=ptime:<milliseconds>` (§6).
    Ptime(u32),
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly`, `a=inactive`.
    Direction(Direction),
    /// Any other attribute, `a=<name>` or `a=<name>:<value>`.
    Other {
        /// The attribute name.
        name: String,
        /// Its value, when it has one.
        value: Option<String>,
    },
}

/// A line the model does not type, kept for writing back (`i=`, `u=`, `b=`, `k=`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    /// The type letter.
    pub kind: char,
    /// Everything after `=`.
    pub value: String,
}

/// One media description, `m=` and the lines under it (§5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The media type: `audio`, `video`, `application`…
    pub media: String,
    /// The transport port; 0 rejects or disables the stream (RFC 3264 §5.1, §6).
    pub port: u16,
    /// The `/<number of ports>` suffix, if any.
    pub port_count: Option<u16>,
    /// The transport protocol, e.g. `RTP/AVP`.
    pub proto: String,
    /// The media formats: payload type numbers for RTP.
    pub formats: Vec<String>,
    /// A media-level `c=`, overriding the session's.
    pub connection: Option<Address>,
    /// Untyped lines of this section.
    pub other_lines: Vec<RawLine>,
    /// The attributes, in order.
    pub attributes: Vec<Attribute>,
}

impl Media {
    /// The media-level direction attribute, if any.
    pub fn direction_attribute(&self) -> Option<Direction> {
        direction_of(&self.attributes)
    }

    /// The `rtpmap` for a payload type, as (encoding, clock rate).
    pub fn rtpmap(&self, payload_type: u8) -> Option<(&str, u32)> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Rtpmap {
                payload_type: pt,
                encoding,
                clock_rate,
                ..
            } if *pt == payload_type => Some((encoding.as_str(), *clock_rate)),
            _ => None,
        })
    }

    /// The `ptime` attribute, if any.
    pub fn ptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Ptime(ms) => Some(*ms),
            _ => None,
        })
    }
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=` (a phone often sends `-` or its name).
    pub session_name: String,
    /// The session-level `c=`.
    pub connection: Option<Address>,
    /// The `t=` lines (at least one on the wire).
    pub timing: Vec<Timing>,
    /// Untyped session-level lines.
    pub other_lines: Vec<RawLine>,
    /// Session-level attributes.
    pub attributes: Vec<Attribute>,
    /// The media descriptions, in order (their order is what RFC 3264 answers match on).
    pub media: Vec<Media>,
}

impl SessionDescription {
    /// Parses a body.
    pub fn parse_bytes(body: &[u8]) -> Result<Self, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        Self::parse(text)
    }

    /// Parses text.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let mut lines = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.is_empty());
        match lines.next() {
            Some((_, "v=0")) => {}
            _ => return Err(SdpError::BadVersion),
        }
        let mut origin = None;
        let mut session_name = None;
        let mut connection = None;
        let mut timing = Vec::new();
        let mut other_lines = Vec::new();
        let mut attributes = Vec::new();
        let mut media: Vec<Media> = Vec::new();
        for (number, line) in lines {
            let (kind, value) = split_line(line).ok_or(SdpError::MalformedLine { line: number })?;
            let bad = SdpError::BadField { line: number, kind };
            if kind == 'm' {
                media.push(parse_media(value).ok_or(bad)?);
                continue;
            }
            if let Some(current) = media.last_mut() {
                match kind {
                    'c' => current.connection = Some(parse_address(value).ok_or(bad)?),
                    'a' => current.attributes.push(parse_attribute(value, number)?),
                    _ => current.other_lines.push(RawLine {
                        kind,
                        value: value.into(),
                    }),
                }
                continue;
            }
            match kind {
                'o' => origin = Some(parse_origin(value).ok_or(bad)?),
                's' => session_name = Some(value.to_owned()),
                'c' => connection = Some(parse_address(value).ok_or(bad)?),
                't' => timing.push(parse_timing(value).ok_or(bad)?),
                'a' => attributes.push(parse_attribute(value, number)?),
                'v' => return Err(bad),
                _ => other_lines.push(RawLine {
                    kind,
                    value: value.into(),
                }),
            }
        }
        let origin = origin.ok_or(SdpError::Missing { kind: 'o' })?;
        let session_name = session_name.ok_or(SdpError::Missing { kind: 's' })?;
        if timing.is_empty() {
            return Err(SdpError::Missing { kind: 't' });
        }
        Ok(SessionDescription {
            origin,
            session_name,
            connection,
            timing,
            other_lines,
            attributes,
            media,
        })
    }

    /// The session-level direction attribute, if any.
    pub fn direction_attribute(&self) -> Option<Direction> {
        direction_of(&self.attributes)
    }

    /// The direction of media stream `index`: its own attribute, else the session's, else
    /// sendrecv (RFC 3264 §5.1).
    pub fn direction(&self, index: usize) -> Direction {
        self.media
            .get(index)
            .and_then(Media::direction_attribute)
            .or_else(|| self.direction_attribute())
            .unwrap_or(Direction::SendRecv)
    }

    /// The connection address for media stream `index`: its own `c=`, else the session's.
    pub fn connection_for(&self, index: usize) -> Option<&Address> {
        self.media
            .get(index)
            .and_then(|m| m.connection.as_ref())
            .or(self.connection.as_ref())
    }

    /// The description as bytes for a message body.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

/// Session-level lines that RFC 4566 §5 puts between `s=` and `c=`; `b=` goes between `c=` and
/// `t=`, and every other untyped line (`r=`, `z=`, `k=`, unknown letters) after the `t=` lines.
const SESSION_ORDER_BEFORE_C: &[char] = &['i', 'u', 'e', 'p'];

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(f, "v=0\r\n")?;
        write!(
            f,
            "o={} {} {} {}\r\n",
            o.username, o.session_id, o.session_version, o.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        let is = |kinds: &'static [char]| move |l: &&RawLine| kinds.contains(&l.kind);
        for line in self.other_lines.iter().filter(is(SESSION_ORDER_BEFORE_C)) {
            write!(f, "{}={}\r\n", line.kind, line.value)?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for line in self.other_lines.iter().filter(|l| l.kind == 'b') {
            write!(f, "b={}\r\n", line.value)?;
        }
        for t in &self.timing {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
        }
        let placed: Vec<char> = [SESSION_ORDER_BEFORE_C, &['b']].concat();
        for line in self
            .other_lines
            .iter()
            .filter(|l| !placed.contains(&l.kind))
        {
            write!(f, "{}={}\r\n", line.kind, line.value)?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.proto)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        write!(f, "\r\n")?;
        // §5: i= before c=, then b= and k=.
        for line in self.other_lines.iter().filter(|l| l.kind == 'i') {
            write!(f, "i={}\r\n", line.value)?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for line in self.other_lines.iter().filter(|l| l.kind != 'i') {
            write!(f, "{}={}\r\n", line.kind, line.value)?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        Ok(())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::Rtpmap {
                payload_type,
                encoding,
                clock_rate,
                params,
            } => {
                write!(f, "rtpmap:{payload_type} {encoding}/{clock_rate}")?;
                if let Some(p) = params {
                    write!(f, "/{p}")?;
                }
                Ok(())
            }
            Attribute::Fmtp { format, params } => write!(f, "fmtp:{format} {params}"),
            Attribute::Ptime(ms) => write!(f, "ptime:{ms}"),
            Attribute::Direction(d) => f.write_str(d.as_str()),
            Attribute::Other { name, value: None } => f.write_str(name),
            Attribute::Other {
                name,
                value: Some(v),
            } => write!(f, "{name}:{v}"),
        }
    }
}

fn direction_of(attributes: &[Attribute]) -> Option<Direction> {
    attributes.iter().rev().find_map(|a| match a {
        Attribute::Direction(d) => Some(*d),
        _ => None,
    })
}

fn split_line(line: &str) -> Option<(char, &str)> {
    let mut chars = line.chars();
    let kind = chars.next()?;
    if !kind.is_ascii_alphabetic() || chars.next() != Some('=') {
        return None;
    }
    Some((kind, &line[2..]))
}

fn parse_origin(value: &str) -> Option<Origin> {
    let fields: Vec<&str> = value.split(' ').collect();
    let [username, session_id, version, net_type, addr_type, address] = fields.as_slice() else {
        return None;
    };
    Some(Origin {
        username: (*username).into(),
        session_id: non_empty(session_id)?.into(),
        session_version: version.parse().ok()?,
        address: Address {
            net_type: non_empty(net_type)?.into(),
            addr_type: non_empty(addr_type)?.into(),
            address: non_empty(address)?.into(),
        },
    })
}

fn parse_address(value: &str) -> Option<Address> {
    let fields: Vec<&str> = value.split(' ').collect();
    let [net_type, addr_type, address] = fields.as_slice() else {
        return None;
    };
    Some(Address {
        net_type: non_empty(net_type)?.into(),
        addr_type: non_empty(addr_type)?.into(),
        address: non_empty(address)?.into(),
    })
}

fn parse_timing(value: &str) -> Option<Timing> {
    let (start, stop) = value.split_once(' ')?;
    Some(Timing {
        start: start.parse().ok()?,
        stop: stop.parse().ok()?,
    })
}

fn parse_media(value: &str) -> Option<Media> {
    let mut fields = value.split(' ');
    let media = non_empty(fields.next()?)?;
    let port_field = fields.next()?;
    let (port, port_count) = match port_field.split_once('/') {
        Some((port, count)) => (port.parse().ok()?, Some(count.parse().ok()?)),
        None => (port_field.parse().ok()?, None),
    };
    let proto = non_empty(fields.next()?)?;
    let formats: Vec<String> = fields.map(str::to_owned).collect();
    if formats.iter().any(String::is_empty) {
        return None;
    }
    Some(Media {
        media: media.into(),
        port,
        port_count,
        proto: proto.into(),
        formats,
        connection: None,
        other_lines: Vec::new(),
        attributes: Vec::new(),
    })
}

fn parse_attribute(value: &str, line: usize) -> Result<Attribute, SdpError> {
    let (name, rest) = match value.split_once(':') {
        Some((name, rest)) => (name, Some(rest)),
        None => (value, None),
    };
    match (name, rest) {
        ("rtpmap", Some(rest)) => parse_rtpmap(rest).ok_or(SdpError::BadAttribute {
            line,
            name: "rtpmap",
        }),
        ("fmtp", Some(rest)) => {
            let (format, params) = rest
                .split_once(' ')
                .filter(|(format, _)| !format.is_empty())
                .ok_or(SdpError::BadAttribute { line, name: "fmtp" })?;
            Ok(Attribute::Fmtp {
                format: format.into(),
                params: params.into(),
            })
        }
        ("ptime", Some(rest)) => {
            rest.parse()
                .map(Attribute::Ptime)
                .map_err(|_| SdpError::BadAttribute {
                    line,
                    name: "ptime",
                })
        }
        (name, None) => Ok(match Direction::from_name(name) {
            Some(direction) => Attribute::Direction(direction),
            None => Attribute::Other {
                name: name.into(),
                value: None,
            },
        }),
        (name, rest) => Ok(Attribute::Other {
            name: name.into(),
            value: rest.map(str::to_owned),
        }),
    }
}

fn parse_rtpmap(rest: &str) -> Option<Attribute> {
    let (payload_type, encoding) = rest.split_once(' ')?;
    let payload_type: u8 = payload_type.parse().ok().filter(|pt| *pt < 128)?;
    let mut parts = encoding.splitn(3, '/');
    let name = non_empty(parts.next()?)?;
    let clock_rate = parts.next()?.parse().ok()?;
    let params = parts.next().map(str::to_owned);
    Some(Attribute::Rtpmap {
        payload_type,
        encoding: name.into(),
        clock_rate,
        params,
    })
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
mod tests;
