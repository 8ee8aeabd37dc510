//! The RFC 4733 telephone-event payload (§2.3): one DTMF digit or other named event per packet,
//! repeated with a growing duration while the key is held and sent three times with the end bit
//! when it is released (§2.5.1.4). The events themselves are listed in §3.2 (DTMF 0–9, *, #,
//! A–D are events 0–15).

use thiserror::Error;

/// Octets of one event block (§2.3, Figure 1).
pub const EVENT_LEN: usize = 4;

/// Why a payload is not a telephone-event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    /// Shorter than one 4-octet event block.
    #[error("telephone-event payload of {len} octets is shorter than 4")]
    TooShort {
        /// Octets received.
        len: usize,
    },
    /// A volume above 63 was given to build a payload (the field is 6 bits).
    #[error("volume {volume} does not fit the 6-bit field (0 to 63)")]
    VolumeOutOfRange {
        /// The volume given.
        volume: u8,
    },
    /// A character that is not one of the 16 DTMF keys.
    #[error("{key:?} is not a DTMF key (0-9, *, #, A-D)")]
    NotDtmf {
        /// The character given.
        key: char,
    },
}

/// One telephone event (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// The event code (§3.2: 0–9 digits, 10 `*`, 11 `#`, 12–15 A–D).
    pub event: u8,
    /// The end bit: this packet reports the event's final duration.
    pub end: bool,
    /// Power level in −dBm0, 0 (loudest) to 63 (§2.5.2.2).
    volume: u8,
    /// Duration so far, in RTP timestamp units from the event's start (§2.5.1.2).
    pub duration: u16,
}

impl TelephoneEvent {
    /// An event; the volume is −dBm0 and must be at most 63.
    pub fn new(event: u8, end: bool, volume: u8, duration: u16) -> Result<Self, EventError> {
        if volume > 63 {
            return Err(EventError::VolumeOutOfRange { volume });
        }
        Ok(TelephoneEvent {
            event,
            end,
            volume,
            duration,
        })
    }

    /// The power level, −dBm0.
    pub fn volume(&self) -> u8 {
        self.volume
    }

    /// Reads the first event of a payload. Extra blocks (§2.5.1.5 redundancy via RFC 2198 is
    /// negotiated separately and not used by phones we serve) are ignored.
    pub fn parse(payload: &[u8]) -> Result<Self, EventError> {
        let block = payload
            .get(..EVENT_LEN)
            .ok_or(EventError::TooShort { len: payload.len() })?;
        Ok(TelephoneEvent {
            event: block[0],
            end: block[1] & 0x80 != 0,
            // Bit 0x40 is reserved (R): senders set it to zero, receivers ignore it (§2.3).
            volume: block[1] & 0x3F,
            duration: u16::from_be_bytes([block[2], block[3]]),
        })
    }

    /// The 4-octet wire form.
    pub fn to_bytes(&self) -> [u8; EVENT_LEN] {
        let duration = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3F),
            duration[0],
            duration[1],
        ]
    }

    /// The DTMF key this event stands for, if it is one of the 16.
    pub fn dtmf(&self) -> Option<char> {
        DTMF_KEYS.get(usize::from(self.event)).copied()
    }
}

const DTMF_KEYS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// The event code of a DTMF key (§3.2), case-insensitive for A–D.
pub fn dtmf_event(key: char) -> Result<u8, EventError> {
    let upper = key.to_ascii_uppercase();
    DTMF_KEYS
        .iter()
        .position(|&k| k == upper)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or(EventError::NotDtmf { key })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4733 §2.3 layout: event 5, E=1, R=0, volume 10, duration 1,600 (200 ms at 8 kHz).
    #[test]
    fn parses_and_writes_the_rfc_layout() {
        let bytes = [0x05, 0x8A, 0x06, 0x40];
        let ev = TelephoneEvent::parse(&bytes).unwrap();
        assert_eq!(ev.event, 5);
        assert!(ev.end);
        assert_eq!(ev.volume(), 10);
        assert_eq!(ev.duration, 1600);
        assert_eq!(ev.dtmf(), Some('5'));
        assert_eq!(ev.to_bytes(), bytes);
    }

    #[test]
    fn the_reserved_bit_is_ignored_and_not_written() {
        let ev = TelephoneEvent::parse(&[11, 0x40 | 0x07, 0, 160]).unwrap();
        assert!(!ev.end);
        assert_eq!(ev.volume(), 7);
        assert_eq!(ev.dtmf(), Some('#'));
        assert_eq!(ev.to_bytes(), [11, 0x07, 0, 160]);
    }

    #[test]
    fn bad_input_gets_a_typed_error() {
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(EventError::TooShort { len: 3 })
        );
        assert_eq!(
            TelephoneEvent::new(1, false, 64, 0),
            Err(EventError::VolumeOutOfRange { volume: 64 })
        );
        assert_eq!(dtmf_event('x'), Err(EventError::NotDtmf { key: 'x' }));
    }

    #[test]
    fn dtmf_keys_map_to_rfc_codes() {
        let table = [
            ('0', 0),
            ('9', 9),
            ('*', 10),
            ('#', 11),
            ('A', 12),
            ('d', 15),
        ];
        for (key, code) in table {
            assert_eq!(dtmf_event(key), Ok(code), "{key}");
        }
        let flash = TelephoneEvent::new(16, false, 0, 0).unwrap();
        assert_eq!(flash.dtmf(), None, "event 16 is flash, not a key");
    }
}
