//! WAV (RIFF `WAVE`) files of 8 kHz mono audio, for announcements: read into linear PCM and
//! written from it.
//!
//! Read: 16-bit linear PCM (format 1), and G.711 µ-law (7) and A-law (6), the three encodings
//! telephony tools (sox, Audacity) write for 8 kHz speech; any other rate, channel count or
//! format is a typed [`WavError`] naming what was found. Unknown chunks (`LIST`, `fact`) are
//! skipped. Written: 16-bit linear PCM, the canonical 44-byte header.

use thiserror::Error;

use crate::g711::Law;
use crate::SAMPLE_RATE;

/// Why bytes are not a WAV file callcomp can play.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WavError {
    /// The file does not start with `RIFF....WAVE`.
    #[error("not a RIFF WAVE file")]
    NotWave,
    /// A chunk's length runs past the end of the file.
    #[error("chunk `{chunk}` is cut short")]
    Truncated {
        /// The chunk's four-character id.
        chunk: String,
    },
    /// No `fmt ` chunk before the `data` chunk.
    #[error("no `fmt ` chunk before the audio data")]
    MissingFormat,
    /// No `data` chunk.
    #[error("no `data` chunk")]
    MissingData,
    /// An encoding other than 16-bit PCM, µ-law or A-law.
    #[error(
        "unsupported encoding: format tag {tag}, {bits} bits (16-bit PCM, µ-law or A-law only)"
    )]
    Encoding {
        /// The `wFormatTag`.
        tag: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// Not 8,000 samples per second.
    #[error("sample rate {rate} Hz (8000 Hz only)")]
    SampleRate {
        /// The file's rate.
        rate: u32,
    },
    /// Not one channel.
    #[error("{channels} channels (mono only)")]
    Channels {
        /// The file's channel count.
        channels: u16,
    },
}

/// The audio of a WAV file as 8 kHz linear samples.
pub fn parse(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut format: Option<Encoding> = None;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let body_start = at + 8;
        let body_end = body_start
            .checked_add(len as usize)
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| WavError::Truncated {
                chunk: String::from_utf8_lossy(id).into_owned(),
            })?;
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " => format = Some(read_format(body)?),
            b"data" => return Ok(decode(format.ok_or(WavError::MissingFormat)?, body)),
            _ => {}
        }
        // Chunks are padded to an even length (RIFF).
        at = body_end + (len as usize & 1);
    }
    Err(WavError::MissingData)
}

/// A 16-bit PCM, 8 kHz, mono WAV file of `samples`.
pub fn write(samples: &[i16]) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX - 36);
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Encoding {
    Linear16,
    G711(Law),
}

fn read_format(body: &[u8]) -> Result<Encoding, WavError> {
    if body.len() < 16 {
        return Err(WavError::Truncated {
            chunk: "fmt ".into(),
        });
    }
    let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
    let tag = u16_at(0);
    let channels = u16_at(2);
    let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
    let bits = u16_at(14);
    if channels != 1 {
        return Err(WavError::Channels { channels });
    }
    if rate != SAMPLE_RATE {
        return Err(WavError::SampleRate { rate });
    }
    match (tag, bits) {
        (1, 16) => Ok(Encoding::Linear16),
        (6, 8) => Ok(Encoding::G711(Law::ALaw)),
        (7, 8) => Ok(Encoding::G711(Law::MuLaw)),
        _ => Err(WavError::Encoding { tag, bits }),
    }
}

fn decode(encoding: Encoding, data: &[u8]) -> Vec<i16> {
    match encoding {
        Encoding::Linear16 => data
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect(),
        Encoding::G711(law) => {
            let mut out = vec![0i16; data.len()];
            law.decode_into(data, &mut out);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_16_bit_pcm() {
        let samples: Vec<i16> = (0..400).map(|i| (i * 97 % 2000 - 1000) as i16).collect();
        let bytes = write(&samples);
        assert_eq!(bytes.len(), 44 + 800);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(parse(&bytes), Ok(samples));
    }

    #[test]
    fn reads_mu_law_and_a_law_and_skips_unknown_chunks() {
        for (tag, law) in [(7u16, Law::MuLaw), (6, Law::ALaw)] {
            let mut bytes = b"RIFF\0\0\0\0WAVE".to_vec();
            // An odd-length LIST chunk with its pad byte.
            bytes.extend_from_slice(b"LIST\x03\0\0\0abc\0");
            bytes.extend_from_slice(b"fmt \x10\0\0\0");
            bytes.extend_from_slice(&tag.to_le_bytes());
            bytes.extend_from_slice(&1u16.to_le_bytes());
            bytes.extend_from_slice(&8000u32.to_le_bytes());
            bytes.extend_from_slice(&8000u32.to_le_bytes());
            bytes.extend_from_slice(&1u16.to_le_bytes());
            bytes.extend_from_slice(&8u16.to_le_bytes());
            bytes.extend_from_slice(b"data\x02\0\0\0");
            bytes.extend_from_slice(&[law.encode(1000), law.encode(-1000)]);
            assert_eq!(
                parse(&bytes),
                Ok(vec![
                    law.decode(law.encode(1000)),
                    law.decode(law.encode(-1000))
                ])
            );
        }
    }

    #[test]
    fn refuses_what_it_cannot_play() {
        let good = write(&[0; 10]);
        assert_eq!(parse(b"RIFX\0\0\0\0WAVE"), Err(WavError::NotWave));
        assert_eq!(
            parse(&good[..30]),
            Err(WavError::Truncated {
                chunk: "fmt ".into()
            })
        );
        let mut rate = good.clone();
        rate[24..28].copy_from_slice(&16000u32.to_le_bytes());
        assert_eq!(parse(&rate), Err(WavError::SampleRate { rate: 16000 }));
        let mut stereo = good.clone();
        stereo[22..24].copy_from_slice(&2u16.to_le_bytes());
        assert_eq!(parse(&stereo), Err(WavError::Channels { channels: 2 }));
        let mut float = good.clone();
        float[20..22].copy_from_slice(&3u16.to_le_bytes());
        float[34..36].copy_from_slice(&32u16.to_le_bytes());
        assert_eq!(parse(&float), Err(WavError::Encoding { tag: 3, bits: 32 }));
        let mut no_data = good[..36].to_vec();
        no_data.extend_from_slice(b"junk\0\0\0\0");
        assert_eq!(parse(&no_data), Err(WavError::MissingData));
        let mut data_first = b"RIFF\0\0\0\0WAVE".to_vec();
        data_first.extend_from_slice(&good[36..]);
        assert_eq!(parse(&data_first), Err(WavError::MissingFormat));
    }
}
