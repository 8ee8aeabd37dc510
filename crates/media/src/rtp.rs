//! RTP packets (RFC 3550 §5.1) and the wrap-aware arithmetic on their sequence numbers and
//! timestamps (RFC 3550 §5.1, Appendix A.1; serial-number comparison as in RFC 1982 §3.2).
//!
//! [`Packet::parse`] borrows the payload from the datagram and never allocates: it checks the
//! version, reads the CSRC list (§5.1 `CC`), steps over a header extension (§5.3.1) keeping its
//! bytes so a relay can write the packet back unchanged, and strips padding (§5.1 `P`, the last
//! octet counts the padding octets, itself included). [`Packet::write`] is its inverse.

use thiserror::Error;

/// The only RTP version in use (RFC 3550 §5.1 `V`).
pub const VERSION: u8 = 2;

/// Octets of the fixed header, before CSRCs and extension.
pub const FIXED_HEADER_LEN: usize = 12;

/// At most 15 contributing sources fit in the 4-bit `CC` field.
pub const MAX_CSRCS: usize = 15;

/// Why a datagram is not an RTP packet we accept.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpError {
    /// Shorter than the 12-octet fixed header.
    #[error("RTP packet of {len} octets is shorter than the 12-octet fixed header")]
    TooShort {
        /// Octets received.
        len: usize,
    },
    /// The version field is not 2 (RTP version 1, or not RTP at all, e.g. STUN or RTCP mux).
    #[error("RTP version {version} is not supported (only 2)")]
    BadVersion {
        /// The version bits received.
        version: u8,
    },
    /// The CSRC list announced by `CC` runs past the end of the datagram.
    #[error("{count} CSRC identifiers announced, but the packet ends first")]
    CsrcTruncated {
        /// The `CC` field.
        count: u8,
    },
    /// The header extension's length runs past the end of the datagram.
    #[error("header extension of {words} words runs past the end of the packet")]
    ExtensionTruncated {
        /// The extension length field, in 32-bit words.
        words: u16,
    },
    /// The padding count is zero or larger than what follows the header.
    #[error("padding count {count} is invalid with {available} octets after the header")]
    BadPadding {
        /// The last octet of the packet.
        count: u8,
        /// Octets after the header, padding included.
        available: usize,
    },
    /// More than 15 CSRCs were given to build a packet.
    #[error("{count} CSRC identifiers given, at most 15 fit")]
    TooManyCsrcs {
        /// How many were given.
        count: usize,
    },
    /// The extension data given to build a packet is not a whole number of 32-bit words or
    /// longer than the 16-bit length field can say.
    #[error("extension data of {len} octets is not a whole number of 32-bit words up to 65535")]
    BadExtensionLength {
        /// Octets given.
        len: usize,
    },
}

/// A header extension (RFC 3550 §5.3.1), kept as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The profile-defined 16 bits (0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// The extension data, a whole number of 32-bit words.
    pub data: &'a [u8],
}

/// One RTP packet, its payload borrowed from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The marker bit (for audio: first packet after silence, RFC 3551 §4.1).
    pub marker: bool,
    /// The payload type, 7 bits (0 PCMU, 8 PCMA, dynamic 96–127 for telephone-event).
    pub payload_type: u8,
    /// The sequence number, +1 per packet, wrapping.
    pub sequence: u16,
    /// The sampling instant of the first payload octet, in clock-rate units, wrapping.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
    csrc_count: u8,
    csrcs: [u32; MAX_CSRCS],
    extension: Option<Extension<'a>>,
    /// The payload, without padding.
    pub payload: &'a [u8],
    /// Padding octets after the payload (0: the `P` bit is clear); the last one holds the count.
    pub padding: u8,
}

impl<'a> Packet<'a> {
    /// A packet with no CSRC, extension or padding.
    pub fn new(
        payload_type: u8,
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        payload: &'a [u8],
    ) -> Self {
        Packet {
            marker: false,
            payload_type: payload_type & 0x7F,
            sequence,
            timestamp,
            ssrc,
            csrc_count: 0,
            csrcs: [0; MAX_CSRCS],
            extension: None,
            payload,
            padding: 0,
        }
    }

    /// Sets the contributing sources (a mixer lists the parties it mixed, RFC 3550 §7.1).
    pub fn set_csrcs(&mut self, csrcs: &[u32]) -> Result<(), RtpError> {
        if csrcs.len() > MAX_CSRCS {
            return Err(RtpError::TooManyCsrcs { count: csrcs.len() });
        }
        self.csrcs = [0; MAX_CSRCS];
        self.csrcs[..csrcs.len()].copy_from_slice(csrcs);
        // Bounded by MAX_CSRCS just above.
        self.csrc_count = csrcs.len() as u8;
        Ok(())
    }

    /// Sets the header extension; its data must be whole 32-bit words.
    pub fn set_extension(&mut self, extension: Option<Extension<'a>>) -> Result<(), RtpError> {
        if let Some(ext) = extension {
            if ext.data.len() % 4 != 0 || ext.data.len() / 4 > usize::from(u16::MAX) {
                return Err(RtpError::BadExtensionLength {
                    len: ext.data.len(),
                });
            }
        }
        self.extension = extension;
        Ok(())
    }

    /// The header extension, if the `X` bit was set.
    pub fn extension(&self) -> Option<Extension<'a>> {
        self.extension
    }

    /// The contributing sources.
    pub fn csrcs(&self) -> &[u32] {
        &self.csrcs[..usize::from(self.csrc_count)]
    }

    /// Reads one RTP packet from a datagram.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, RtpError> {
        let fixed = bytes
            .get(..FIXED_HEADER_LEN)
            .ok_or(RtpError::TooShort { len: bytes.len() })?;
        let version = fixed[0] >> 6;
        if version != VERSION {
            return Err(RtpError::BadVersion { version });
        }
        let has_padding = fixed[0] & 0x20 != 0;
        let has_extension = fixed[0] & 0x10 != 0;
        let csrc_count = fixed[0] & 0x0F;
        let mut packet = Packet {
            marker: fixed[1] & 0x80 != 0,
            payload_type: fixed[1] & 0x7F,
            sequence: u16::from_be_bytes([fixed[2], fixed[3]]),
            timestamp: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
            ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
            csrc_count,
            csrcs: [0; MAX_CSRCS],
            extension: None,
            payload: &[],
            padding: 0,
        };
        let mut offset = FIXED_HEADER_LEN;
        let csrc_end = offset + 4 * usize::from(csrc_count);
        let csrc_bytes = bytes
            .get(offset..csrc_end)
            .ok_or(RtpError::CsrcTruncated { count: csrc_count })?;
        for (slot, word) in packet.csrcs.iter_mut().zip(csrc_bytes.chunks_exact(4)) {
            *slot = be_u32(word);
        }
        offset = csrc_end;
        if has_extension {
            let head = bytes
                .get(offset..offset + 4)
                .ok_or(RtpError::ExtensionTruncated { words: 0 })?;
            let profile = u16::from_be_bytes([head[0], head[1]]);
            let words = u16::from_be_bytes([head[2], head[3]]);
            let end = offset + 4 + 4 * usize::from(words);
            let data = bytes
                .get(offset + 4..end)
                .ok_or(RtpError::ExtensionTruncated { words })?;
            packet.extension = Some(Extension { profile, data });
            offset = end;
        }
        let mut body = &bytes[offset..];
        if has_padding {
            let count = body.last().copied().unwrap_or(0);
            if count == 0 || usize::from(count) > body.len() {
                return Err(RtpError::BadPadding {
                    count,
                    available: body.len(),
                });
            }
            body = &body[..body.len() - usize::from(count)];
            packet.padding = count;
        }
        packet.payload = body;
        Ok(packet)
    }

    /// Octets [`write`](Self::write) appends.
    pub fn len(&self) -> usize {
        FIXED_HEADER_LEN
            + 4 * usize::from(self.csrc_count)
            + self.extension.map_or(0, |e| 4 + e.data.len())
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// True when the packet would carry no payload and no padding.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty() && self.padding == 0
    }

    /// Appends the packet's wire form to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.reserve(self.len());
        let mut first = VERSION << 6 | self.csrc_count;
        if self.padding > 0 {
            first |= 0x20;
        }
        if self.extension.is_some() {
            first |= 0x10;
        }
        out.push(first);
        out.push(u8::from(self.marker) << 7 | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for csrc in self.csrcs() {
            out.extend_from_slice(&csrc.to_be_bytes());
        }
        if let Some(ext) = self.extension {
            out.extend_from_slice(&ext.profile.to_be_bytes());
            // set_extension and parse allow only whole words that the field can count.
            let words = u16::try_from(ext.data.len() / 4).unwrap_or(u16::MAX);
            out.extend_from_slice(&words.to_be_bytes());
            out.extend_from_slice(ext.data);
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.extend(std::iter::repeat_n(0, usize::from(self.padding) - 1));
            out.push(self.padding);
        }
    }

    /// The wire form as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write(&mut out);
        out
    }
}

fn be_u32(word: &[u8]) -> u32 {
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(&word[..4]);
    u32::from_be_bytes(bytes)
}

/// True when sequence number `a` comes after `b`, modulo 2^16 (RFC 1982 serial arithmetic:
/// within half the number space).
pub fn seq_after(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// True when timestamp `a` comes after `b`, modulo 2^32.
pub fn timestamp_after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// Turns 16-bit sequence numbers into a 64-bit count that does not wrap (RFC 3550 §A.1's
/// "extended highest sequence number"), and says whether each packet is new, late or a jump.
///
/// A packet within [`MAX_DROPOUT`](SequenceCounter::MAX_DROPOUT) ahead of the highest seen moves
/// the highest on (counting wraps); one within
/// [`MAX_MISORDER`](SequenceCounter::MAX_MISORDER) behind is late but placed exactly; anything
/// else is a jump (the sender restarted), after which counting resynchronizes on the new number.
#[derive(Debug, Clone, Default)]
pub struct SequenceCounter {
    highest: Option<u64>,
}

/// Where a packet's sequence number falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceStep {
    /// Ahead of every packet so far; `gap` packets were skipped (lost or yet to come).
    Ahead {
        /// The extended sequence number.
        extended: u64,
        /// Packets between the previous highest and this one.
        gap: u64,
    },
    /// Behind the highest (reordered or duplicated).
    Late {
        /// The extended sequence number.
        extended: u64,
    },
    /// Too far from the highest in either direction: the sender restarted its numbering.
    Jump {
        /// The extended sequence number counting restarts from.
        extended: u64,
    },
}

impl SequenceCounter {
    /// Packets ahead that still count as the same stream (RFC 3550 §A.1).
    pub const MAX_DROPOUT: u16 = 3000;
    /// Packets behind that still count as reordered rather than a restart (RFC 3550 §A.1).
    pub const MAX_MISORDER: u16 = 100;

    /// A counter that has seen nothing.
    pub fn new() -> Self {
        SequenceCounter::default()
    }

    /// The extended highest sequence number so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Places one received sequence number.
    pub fn observe(&mut self, sequence: u16) -> SequenceStep {
        // Start a cycle above zero so a few late packets of the first cycle stay representable.
        const FIRST_CYCLE: u64 = 1 << 16;
        let Some(highest) = self.highest else {
            let extended = FIRST_CYCLE + u64::from(sequence);
            self.highest = Some(extended);
            return SequenceStep::Ahead { extended, gap: 0 };
        };
        // The low 16 bits of `highest` are its sequence number; the cast takes exactly them.
        let last = highest as u16;
        let ahead = sequence.wrapping_sub(last);
        let behind = last.wrapping_sub(sequence);
        if ahead == 0 {
            SequenceStep::Late { extended: highest }
        } else if ahead < Self::MAX_DROPOUT {
            let extended = highest + u64::from(ahead);
            self.highest = Some(extended);
            SequenceStep::Ahead {
                extended,
                gap: u64::from(ahead) - 1,
            }
        } else if behind <= Self::MAX_MISORDER {
            SequenceStep::Late {
                extended: highest - u64::from(behind),
            }
        } else {
            // A restart: keep counting upwards from a fresh cycle so extended numbers stay
            // monotonic for whoever orders by them.
            let extended = (highest | 0xFFFF) + 1 + FIRST_CYCLE + u64::from(sequence);
            self.highest = Some(extended);
            SequenceStep::Jump { extended }
        }
    }
}

/// Extends 32-bit RTP timestamps to 64 bits across wraps, relative to the last one seen (a
/// timestamp within half the range of the previous is the same epoch or the next one).
#[derive(Debug, Clone, Default)]
pub struct TimestampExtender {
    last: Option<u64>,
}

impl TimestampExtender {
    /// An extender that has seen nothing.
    pub fn new() -> Self {
        TimestampExtender::default()
    }

    /// The extended value of `timestamp`.
    pub fn extend(&mut self, timestamp: u32) -> u64 {
        const FIRST_EPOCH: u64 = 1 << 32;
        let Some(last) = self.last else {
            let extended = FIRST_EPOCH + u64::from(timestamp);
            self.last = Some(extended);
            return extended;
        };
        // The low 32 bits of `last` are its timestamp.
        let delta = timestamp.wrapping_sub(last as u32);
        let extended = if delta < 0x8000_0000 {
            last + u64::from(delta)
        } else {
            last - u64::from(delta.wrapping_neg())
        };
        if extended > last {
            self.last = Some(extended);
        }
        extended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3550 §5.1 layout, octet by octet: V=2, P=0, X=0, CC=0, M=1, PT=0, seq 0x1234,
    /// ts 0xDEADBEEF, SSRC 0x01020304, payload 3 octets.
    const SIMPLE: [u8; 15] = [
        0x80, 0x80, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, 0xFF, 0xFE, 0xFD,
    ];

    #[test]
    fn parses_the_fixed_header() {
        let p = Packet::parse(&SIMPLE).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, 0);
        assert_eq!(p.sequence, 0x1234);
        assert_eq!(p.timestamp, 0xDEAD_BEEF);
        assert_eq!(p.ssrc, 0x0102_0304);
        assert!(p.csrcs().is_empty());
        assert_eq!(p.extension, None);
        assert_eq!(p.payload, &[0xFF, 0xFE, 0xFD]);
        assert_eq!(p.to_bytes(), SIMPLE);
    }

    #[test]
    fn parses_csrcs_extension_and_padding() {
        let mut bytes = vec![0x80 | 0x20 | 0x10 | 2, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9];
        bytes.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 8]); // two CSRCs
        bytes.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]); // one-word extension
        bytes.extend_from_slice(&[0xD5; 4]); // payload
        bytes.extend_from_slice(&[0, 0, 3]); // three octets of padding
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(p.payload_type, 8);
        assert_eq!(p.csrcs(), &[7, 8]);
        assert_eq!(
            p.extension,
            Some(Extension {
                profile: 0xBEDE,
                data: &[0x10, 0xAA, 0, 0]
            })
        );
        assert_eq!(p.payload, &[0xD5; 4]);
        assert_eq!(p.padding, 3);
        assert_eq!(p.to_bytes(), bytes);
        assert_eq!(p.len(), bytes.len());
    }

    #[test]
    fn bad_input_gets_a_typed_error() {
        let cases: Vec<(Vec<u8>, RtpError)> = vec![
            (vec![], RtpError::TooShort { len: 0 }),
            (SIMPLE[..11].to_vec(), RtpError::TooShort { len: 11 }),
            (
                {
                    let mut b = SIMPLE.to_vec();
                    b[0] = 0x40;
                    b
                },
                RtpError::BadVersion { version: 1 },
            ),
            (
                {
                    let mut b = SIMPLE.to_vec();
                    b[0] = 0x00;
                    b
                },
                RtpError::BadVersion { version: 0 },
            ),
            (
                {
                    let mut b = SIMPLE.to_vec();
                    b[0] = 0x81;
                    b
                },
                RtpError::CsrcTruncated { count: 1 },
            ),
            (
                {
                    let mut b = SIMPLE[..12].to_vec();
                    b[0] = 0x90;
                    b
                },
                RtpError::ExtensionTruncated { words: 0 },
            ),
            (
                {
                    let mut b = SIMPLE[..12].to_vec();
                    b[0] = 0x90;
                    b.extend_from_slice(&[0, 0, 0, 2, 1, 2, 3, 4]);
                    b
                },
                RtpError::ExtensionTruncated { words: 2 },
            ),
            (
                {
                    let mut b = SIMPLE.to_vec();
                    b[0] = 0xA0;
                    b[14] = 0;
                    b
                },
                RtpError::BadPadding {
                    count: 0,
                    available: 3,
                },
            ),
            (
                {
                    let mut b = SIMPLE.to_vec();
                    b[0] = 0xA0;
                    b[14] = 4;
                    b
                },
                RtpError::BadPadding {
                    count: 4,
                    available: 3,
                },
            ),
            (
                {
                    let mut b = SIMPLE[..12].to_vec();
                    b[0] = 0xA0;
                    b
                },
                RtpError::BadPadding {
                    count: 0,
                    available: 0,
                },
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(Packet::parse(&bytes), Err(expected), "{bytes:02x?}");
        }
    }

    #[test]
    fn building_checks_csrc_and_extension_limits() {
        let mut p = Packet::new(0, 1, 2, 3, &[]);
        assert_eq!(
            p.set_csrcs(&[1; 16]),
            Err(RtpError::TooManyCsrcs { count: 16 })
        );
        p.set_csrcs(&[1; 15]).unwrap();
        assert_eq!(p.csrcs().len(), 15);
        let odd = [0u8; 3];
        assert_eq!(
            p.set_extension(Some(Extension {
                profile: 1,
                data: &odd
            })),
            Err(RtpError::BadExtensionLength { len: 3 })
        );
        let bytes = p.to_bytes();
        assert_eq!(bytes[0], 0x8F);
        assert_eq!(Packet::parse(&bytes).unwrap(), p);
    }

    #[test]
    fn serial_comparison_wraps() {
        assert!(seq_after(1, 0));
        assert!(seq_after(0, 0xFFFF));
        assert!(!seq_after(0xFFFF, 0));
        assert!(!seq_after(5, 5));
        assert!(timestamp_after(10, u32::MAX - 10));
        assert!(!timestamp_after(u32::MAX - 10, 10));
    }

    #[test]
    fn sequence_counter_extends_across_the_wrap() {
        let mut c = SequenceCounter::new();
        let SequenceStep::Ahead {
            extended: first,
            gap: 0,
        } = c.observe(0xFFFE)
        else {
            panic!("first packet is ahead");
        };
        assert_eq!(
            c.observe(0xFFFF),
            SequenceStep::Ahead {
                extended: first + 1,
                gap: 0
            }
        );
        assert_eq!(
            c.observe(0x0000),
            SequenceStep::Ahead {
                extended: first + 2,
                gap: 0
            }
        );
        // One lost, then the lost one arrives late.
        assert_eq!(
            c.observe(0x0002),
            SequenceStep::Ahead {
                extended: first + 4,
                gap: 1
            }
        );
        assert_eq!(
            c.observe(0x0001),
            SequenceStep::Late {
                extended: first + 3
            }
        );
        assert_eq!(
            c.observe(0xFFFF),
            SequenceStep::Late {
                extended: first + 1
            }
        );
        assert_eq!(
            c.observe(0x0002),
            SequenceStep::Late {
                extended: first + 4
            }
        );
        assert_eq!(c.highest(), Some(first + 4));
    }

    #[test]
    fn sequence_counter_resynchronizes_on_a_jump() {
        let mut c = SequenceCounter::new();
        c.observe(100);
        let before = c.highest().unwrap();
        let SequenceStep::Jump { extended } = c.observe(30_000) else {
            panic!("a jump of 29,900 is a restart");
        };
        assert!(extended > before);
        assert_eq!(extended & 0xFFFF, 30_000);
        assert_eq!(
            c.observe(30_001),
            SequenceStep::Ahead {
                extended: extended + 1,
                gap: 0
            }
        );
        // 101 behind is beyond MAX_MISORDER: another restart, still counting upwards.
        let SequenceStep::Jump { extended: again } = c.observe(30_001 - 101) else {
            panic!("too late is a restart");
        };
        assert!(again > extended);
    }

    #[test]
    fn timestamps_extend_across_the_wrap() {
        let mut t = TimestampExtender::new();
        let start = t.extend(u32::MAX - 159);
        // u32::MAX - 159 + 160 wraps to 0.
        assert_eq!(t.extend(0), start + 160);
        assert_eq!(t.extend(160), start + 320);
        // A late one from before the wrap is placed before.
        assert_eq!(t.extend(u32::MAX - 159), start);
        assert_eq!(t.extend(320), start + 480);
    }
}
