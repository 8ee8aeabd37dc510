//! G.711 µ-law and A-law (ITU-T Recommendation G.711, 1988), the two codecs every SIP phone
//! offers (RTP payload types 0 `PCMU` and 8 `PCMA`, RFC 3551 §4.5.14).
//!
//! Both compress a 16-bit linear sample to 8 bits by a segmented logarithm: µ-law works on
//! 14 significant bits with a bias of 33, A-law on 13 bits; each code's sign, segment and
//! quantization bits are inverted as the Recommendation prescribes (µ-law all bits, A-law the
//! even bits, hence the 0x55 mask). Both directions are table lookups built at compile time from
//! the reference algorithm (256 entries to decode; 2^14 and 2^13 to encode, one per significant
//! input value), checked against the Recommendation's code points in the tests.

/// A G.711 companding law.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law (North America, Japan): RTP `PCMU`, static payload type 0.
    MuLaw,
    /// A-law (Europe and most of the world): RTP `PCMA`, static payload type 8.
    ALaw,
}

impl Law {
    /// The code for a linear sample.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::MuLaw => linear_to_ulaw(sample),
            Law::ALaw => linear_to_alaw(sample),
        }
    }

    /// The linear sample a code stands for.
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::MuLaw => ulaw_to_linear(code),
            Law::ALaw => alaw_to_linear(code),
        }
    }

    /// Encodes `samples` into `out`, one byte per sample, as far as the shorter of the two goes.
    pub fn encode_into(self, samples: &[i16], out: &mut [u8]) {
        for (code, &sample) in out.iter_mut().zip(samples) {
            *code = self.encode(sample);
        }
    }

    /// Decodes `codes` into `out`, one sample per byte, as far as the shorter of the two goes.
    pub fn decode_into(self, codes: &[u8], out: &mut [i16]) {
        let table = match self {
            Law::MuLaw => &ULAW_TABLE,
            Law::ALaw => &ALAW_TABLE,
        };
        for (sample, &code) in out.iter_mut().zip(codes) {
            *sample = table[usize::from(code)];
        }
    }

    /// The code of silence (linear 0): 0xFF for µ-law, 0xD5 for A-law.
    pub fn silence(self) -> u8 {
        self.encode(0)
    }
}

/// µ-law code of a 16-bit linear sample (G.711 Table 2a).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    // µ-law quantizes 14 bits; the two low bits carry nothing, so the table has 2^14 entries.
    ULAW_ENCODE[((i32::from(sample) >> 2) + 8192) as usize]
}

/// A-law code of a 16-bit linear sample (G.711 Table 1a).
pub fn linear_to_alaw(sample: i16) -> u8 {
    // A-law quantizes 13 bits: 2^13 entries.
    ALAW_ENCODE[((i32::from(sample) >> 3) + 4096) as usize]
}

/// The reference µ-law encoder on a 14-bit value, used to build [`ULAW_ENCODE`].
const fn ulaw_encode(value: i32) -> u8 {
    const BIAS: i32 = 0x84 >> 2;
    const CLIP: i32 = 8159;
    let (magnitude, mask) = if value < 0 {
        (-value, 0x7F)
    } else {
        (value, 0xFF)
    };
    let clipped = if magnitude > CLIP { CLIP } else { magnitude };
    let biased = clipped + BIAS;
    // Segment = position of the highest set bit above bit 5 (the biased value is at least 33).
    let highest = 31 - biased.leading_zeros() as i32;
    let segment = if highest > 5 { highest - 5 } else { 0 };
    if segment > 7 {
        // Only the clipped maximum gets here: the largest code of its sign.
        return 0x7F ^ mask;
    }
    let mantissa = (biased >> (segment + 1)) & 0x0F;
    // `segment` and `mantissa` fit in 7 bits, so the cast keeps them whole.
    (((segment << 4) | mantissa) as u8) ^ mask
}

/// Linear sample of a µ-law code (G.711 Table 2a).
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TABLE[usize::from(code)]
}

/// The reference A-law encoder on a 13-bit value, used to build [`ALAW_ENCODE`].
const fn alaw_encode(value: i32) -> u8 {
    // Negative values are folded with one's complement so that -1 lands on the smallest
    // negative code, as the Recommendation's decision levels do.
    let (magnitude, mask) = if value >= 0 {
        (value, 0xD5)
    } else {
        (-value - 1, 0x55)
    };
    if magnitude > 0xFFF {
        return 0x7F ^ mask;
    }
    // Segment 0 and 1 share the step size; above, the highest set bit (from bit 5) decides.
    let highest = 31 - magnitude.leading_zeros() as i32;
    let segment = if highest > 4 { highest - 4 } else { 0 };
    let shift = if segment < 2 { 1 } else { segment };
    let mantissa = (magnitude >> shift) & 0x0F;
    (((segment << 4) | mantissa) as u8) ^ mask
}

/// Linear sample of an A-law code (G.711 Table 1a).
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TABLE[usize::from(code)]
}

const ULAW_TABLE: [i16; 256] = build_ulaw_table();
const ALAW_TABLE: [i16; 256] = build_alaw_table();
// Encoding by table: 16 KiB and 8 KiB, built at compile time from the reference encoders; a
// lookup is several times faster than the segment search in the mixer's hot loop.
static ULAW_ENCODE: [u8; 16384] = build_ulaw_encode();
static ALAW_ENCODE: [u8; 8192] = build_alaw_encode();

const fn build_ulaw_encode() -> [u8; 16384] {
    let mut table = [0u8; 16384];
    let mut i = 0;
    while i < table.len() {
        table[i] = ulaw_encode(i as i32 - 8192);
        i += 1;
    }
    table
}

const fn build_alaw_encode() -> [u8; 8192] {
    let mut table = [0u8; 8192];
    let mut i = 0;
    while i < table.len() {
        table[i] = alaw_encode(i as i32 - 4096);
        i += 1;
    }
    table
}

const fn ulaw_decode(code: u8) -> i16 {
    const BIAS: i32 = 0x84;
    let inverted = !code;
    let mantissa = (inverted & 0x0F) as i32;
    let segment = ((inverted & 0x70) >> 4) as i32;
    let magnitude = ((mantissa << 3) + BIAS) << segment;
    if inverted & 0x80 != 0 {
        (BIAS - magnitude) as i16
    } else {
        (magnitude - BIAS) as i16
    }
}

const fn alaw_decode(code: u8) -> i16 {
    let value = code ^ 0x55;
    let mantissa = ((value & 0x0F) as i32) << 4;
    let segment = ((value & 0x70) >> 4) as i32;
    let magnitude = match segment {
        0 => mantissa + 8,
        1 => mantissa + 0x108,
        _ => (mantissa + 0x108) << (segment - 1),
    };
    if value & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn build_ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_decode(code as u8);
        code += 1;
    }
    table
}

const fn build_alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_decode(code as u8);
        code += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Code points from G.711 Tables 1a/2a: (code, decoded value) at the segment edges and
    /// extremes. µ-law values are the 14-bit outputs scaled by 4, A-law the 13-bit ones by 8.
    #[test]
    fn decode_matches_the_recommendation() {
        let ulaw = [
            (0xFF, 0),
            (0x7F, 0),
            (0x80, 32124),
            (0x00, -32124),
            (0xFE, 8),
            (0x7E, -8),
            (0xEF, 132),
            (0xF0, 120),
            (0xDF, 396),
            (0x8F, 16764),
            (0x90, 15996),
        ];
        for (code, value) in ulaw {
            assert_eq!(ulaw_to_linear(code), value, "µ-law {code:#04x}");
        }
        let alaw = [
            (0xD5, 8),
            (0x55, -8),
            (0xAA, 32256),
            (0x2A, -32256),
            (0xD4, 24),
            (0xC5, 264),
            (0xF5, 528),
            (0xFA, 1008),
        ];
        for (code, value) in alaw {
            assert_eq!(alaw_to_linear(code), value, "A-law {code:#04x}");
        }
    }

    #[test]
    fn silence_and_extremes_encode_to_the_reference_codes() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(Law::MuLaw.silence(), 0xFF);
        assert_eq!(Law::ALaw.silence(), 0xD5);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
        assert_eq!(linear_to_alaw(-1), 0x55);
    }

    /// Every code decodes to a value that encodes back to the same code, except µ-law's
    /// negative zero (0x7F), which is the same value as 0xFF.
    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            let back = linear_to_ulaw(ulaw_to_linear(code));
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(back, expected, "µ-law {code:#04x}");
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "A-law {code:#04x}"
            );
        }
    }

    /// Decoded values are monotonic in the code's magnitude bits: a wrong segment or mantissa
    /// in the table would break the order.
    #[test]
    fn decoded_values_increase_with_magnitude() {
        for law in [Law::MuLaw, Law::ALaw] {
            let mut values: Vec<i16> = (0..=255u8).map(|c| law.decode(c)).collect();
            values.sort_unstable();
            values.dedup();
            let expected = if law == Law::MuLaw { 255 } else { 256 };
            assert_eq!(values.len(), expected, "{law:?} distinct values");
        }
    }

    #[test]
    fn encoding_error_stays_within_half_a_step() {
        // Every linear value encodes to the nearest-below decision interval, whose
        // reconstruction value is at most one step (the segment's size) away.
        for sample in i16::MIN..=i16::MAX {
            for law in [Law::MuLaw, Law::ALaw] {
                let decoded = i32::from(law.decode(law.encode(sample)));
                let error = (decoded - i32::from(sample)).abs();
                let magnitude = i32::from(sample).abs();
                // Half a step is at most 1/32 of the value (1/16 leaves room for the bias and
                // the dropped low bits); beyond the largest code the excess is clipped away.
                let largest = if law == Law::MuLaw { 32124 } else { 32256 };
                let limit = (magnitude / 16).max(16) + (magnitude - largest).max(0);
                assert!(error <= limit, "{law:?} {sample} -> {decoded}");
            }
        }
    }

    #[test]
    fn slices_encode_and_decode() {
        let samples = [0i16, 1000, -1000, 32000];
        let mut codes = [0u8; 4];
        Law::ALaw.encode_into(&samples, &mut codes);
        let mut back = [0i16; 4];
        Law::ALaw.decode_into(&codes, &mut back);
        for (a, b) in samples.iter().zip(back) {
            assert!((i32::from(*a) - i32::from(b)).abs() <= 1024, "{a} vs {b}");
        }
        assert_eq!(codes[0], 0xD5);
    }
}
