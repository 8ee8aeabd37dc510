//! Call-progress tones (ITU-T E.180 and its Supplement 2 list each country's): a tone is a
//! cadence of steps, each a set of frequencies (none: a pause) held for a number of
//! milliseconds, played once or repeated; [`ToneGenerator`] turns one into 20 ms frames of 8 kHz
//! linear PCM.
//!
//! Tones are data ([`Tone`], [`ToneStep`]), so the server's configuration can define its own;
//! [`Country`] gives presets for the United States, the United Kingdom and the CEPT/ETSI
//! countries (EU). Ringback and busy follow the national plans (E.180 Supplement 2; ETSI
//! TR 101 041 for 425 Hz Europe); confirmation and warning have no single standard, so ours are
//! short bursts of each country's tone frequencies, documented in `docs/media.md`.

use thiserror::Error;

use crate::{Frame, FRAME_SAMPLES, SAMPLE_RATE};

/// One step of a cadence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToneStep {
    /// Frequencies in Hz, summed; empty for a pause.
    pub frequencies: Vec<u16>,
    /// How long the step lasts, in milliseconds.
    pub duration_ms: u32,
}

/// A tone: a cadence, its level, and whether it repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tone {
    /// The steps, in order.
    pub steps: Vec<ToneStep>,
    /// Level of each frequency component, in dBm0 (e.g. −13 for each of a dual tone).
    pub level_dbm0: i8,
    /// Start again after the last step (ringback, busy) or stop (confirmation).
    pub repeat: bool,
}

/// Why a tone cannot be played.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ToneError {
    /// The cadence has no steps, or all its steps last 0 ms.
    #[error("the tone's cadence is empty")]
    EmptyCadence,
    /// A frequency at or above half the sampling rate (4,000 Hz) or 0 Hz.
    #[error("step {step}: frequency {hz} Hz is not between 1 and 3999 Hz")]
    BadFrequency {
        /// The step's index.
        step: usize,
        /// The frequency.
        hz: u16,
    },
    /// A level above +3 dBm0, which G.711 cannot carry undistorted.
    #[error("level {level_dbm0} dBm0 is above +3 dBm0")]
    LevelTooHigh {
        /// The level given.
        level_dbm0: i8,
    },
}

impl Tone {
    /// A tone of `frequencies` with the on/off pairs of `cadence_ms` (milliseconds on, off, on,
    /// off…), so presets read like the tables they come from.
    pub fn cadence(frequencies: &[u16], cadence_ms: &[u32], level_dbm0: i8, repeat: bool) -> Self {
        let steps = cadence_ms
            .iter()
            .enumerate()
            .filter(|(_, &ms)| ms > 0)
            .map(|(i, &ms)| ToneStep {
                frequencies: if i % 2 == 0 {
                    frequencies.to_vec()
                } else {
                    Vec::new()
                },
                duration_ms: ms,
            })
            .collect();
        Tone {
            steps,
            level_dbm0,
            repeat,
        }
    }

    /// The length of one pass through the cadence, in milliseconds.
    pub fn period_ms(&self) -> u64 {
        self.steps.iter().map(|s| u64::from(s.duration_ms)).sum()
    }

    /// Checks the tone can be played.
    pub fn validate(&self) -> Result<(), ToneError> {
        if self.period_ms() == 0 {
            return Err(ToneError::EmptyCadence);
        }
        if self.level_dbm0 > 3 {
            return Err(ToneError::LevelTooHigh {
                level_dbm0: self.level_dbm0,
            });
        }
        for (step, s) in self.steps.iter().enumerate() {
            if let Some(&hz) = s
                .frequencies
                .iter()
                .find(|&&hz| hz == 0 || u32::from(hz) * 2 >= SAMPLE_RATE)
            {
                return Err(ToneError::BadFrequency { step, hz });
            }
        }
        Ok(())
    }
}

/// The tones of one country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToneSet {
    /// Heard by a caller while the callee's phone rings.
    pub ringback: Tone,
    /// The callee is busy.
    pub busy: Tone,
    /// Something was accepted (a request queued, a recall set up).
    pub confirmation: Tone,
    /// Someone is joining the call (intrusion).
    pub warning: Tone,
}

/// Countries with preset tones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Country {
    /// United States (and NANP): precise tone plan, 440+480 Hz ringback.
    Us,
    /// United Kingdom: 400+450 Hz double-ring ringback.
    Uk,
    /// CEPT / ETSI countries: 425 Hz tones.
    Eu,
}

impl Country {
    /// The country for a configuration code: `us`, `uk` (or `gb`), `eu`.
    pub fn from_code(code: &str) -> Option<Self> {
        match code.to_ascii_lowercase().as_str() {
            "us" => Some(Country::Us),
            "uk" | "gb" => Some(Country::Uk),
            "eu" => Some(Country::Eu),
            _ => None,
        }
    }

    /// The preset tones.
    pub fn tones(self) -> ToneSet {
        match self {
            // ANSI T1.401 / Bellcore precise tone plan.
            Country::Us => ToneSet {
                ringback: Tone::cadence(&[440, 480], &[2000, 4000], -19, true),
                busy: Tone::cadence(&[480, 620], &[500, 500], -24, true),
                confirmation: Tone::cadence(&[350, 440], &[100, 100, 100, 100, 100], -13, false),
                warning: Tone::cadence(&[440], &[300, 200, 300], -13, false),
            },
            // BT SIN 350.
            Country::Uk => ToneSet {
                ringback: Tone::cadence(&[400, 450], &[400, 200, 400, 2000], -19, true),
                busy: Tone::cadence(&[400], &[375, 375], -13, true),
                confirmation: Tone::cadence(&[350, 450], &[100, 100, 100, 100, 100], -13, false),
                warning: Tone::cadence(&[400], &[100, 200, 100], -13, false),
            },
            // ETSI TR 101 041 (CEPT recommendation T/CS 20-15).
            Country::Eu => ToneSet {
                ringback: Tone::cadence(&[425], &[1000, 4000], -13, true),
                busy: Tone::cadence(&[425], &[500, 500], -13, true),
                confirmation: Tone::cadence(&[425], &[100, 100, 100, 100, 100], -13, false),
                warning: Tone::cadence(&[425], &[200, 200, 200], -13, false),
            },
        }
    }
}

/// Plays a [`Tone`] frame by frame; the phase of each frequency runs on across frames so the
/// signal has no clicks at frame edges.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    steps: Vec<Step>,
    repeat: bool,
    amplitude: f64,
    step: usize,
    /// Samples already played of the current step.
    offset: u64,
    /// Phase of each frequency of the current step, in cycles.
    phases: Vec<f64>,
    finished: bool,
}

#[derive(Debug, Clone)]
struct Step {
    /// Cycles per sample of each frequency.
    increments: Vec<f64>,
    samples: u64,
}

/// Peak amplitude of a 0 dBm0 sine in 16-bit linear PCM: G.711's full scale is +3.17 dBm0
/// (G.711 §3; µ-law peak 8159 in 14 bits), 32767 / 10^(3.17/20).
const ZERO_DBM0_PEAK: f64 = 22_720.0;

impl ToneGenerator {
    /// A generator at the start of `tone`.
    pub fn new(tone: &Tone) -> Result<Self, ToneError> {
        tone.validate()?;
        let steps = tone
            .steps
            .iter()
            .filter(|s| s.duration_ms > 0)
            .map(|s| Step {
                increments: s
                    .frequencies
                    .iter()
                    .map(|&hz| f64::from(hz) / f64::from(SAMPLE_RATE))
                    .collect(),
                samples: u64::from(s.duration_ms) * u64::from(SAMPLE_RATE) / 1000,
            })
            .collect::<Vec<_>>();
        let phases = vec![0.0; steps.first().map_or(0, |s| s.increments.len())];
        Ok(ToneGenerator {
            steps,
            repeat: tone.repeat,
            amplitude: ZERO_DBM0_PEAK * 10f64.powf(f64::from(tone.level_dbm0) / 20.0),
            step: 0,
            offset: 0,
            phases,
            finished: false,
        })
    }

    /// True once a tone that does not repeat has played to its end.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The next 20 ms; silence once finished.
    pub fn next_frame(&mut self) -> Frame {
        let mut frame = [0i16; FRAME_SAMPLES];
        self.fill(&mut frame);
        frame
    }

    /// Writes the next `out.len()` samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for sample in out.iter_mut() {
            *sample = self.next_sample();
        }
    }

    fn next_sample(&mut self) -> i16 {
        if self.finished {
            return 0;
        }
        while self.offset >= self.steps[self.step].samples {
            self.step += 1;
            self.offset = 0;
            if self.step == self.steps.len() {
                if !self.repeat {
                    self.finished = true;
                    return 0;
                }
                self.step = 0;
            }
            // Each burst starts at phase 0: a clean, repeatable onset.
            self.phases = vec![0.0; self.steps[self.step].increments.len()];
        }
        let step = &self.steps[self.step];
        let mut value = 0.0;
        for (phase, &inc) in self.phases.iter_mut().zip(&step.increments) {
            value += (std::f64::consts::TAU * *phase).sin();
            *phase = (*phase + inc).fract();
        }
        self.offset += 1;
        // Levels are at most +3 dBm0 per component; several components may still add past
        // full scale, where saturating is what a codec would do anyway.
        (value * self.amplitude).round().clamp(-32768.0, 32767.0) as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel::detect;

    /// For each 20 ms frame of `frames`, whether `hz` is clearly in it.
    fn on_frames(tone: &Tone, hz: f64, frames: usize) -> Vec<bool> {
        let mut generator = ToneGenerator::new(tone).unwrap();
        (0..frames)
            .map(|_| {
                let f = generator.next_frame();
                let d = detect(&f, hz);
                d.ratio > 0.2 && d.amplitude > 500.0
            })
            .collect()
    }

    #[test]
    fn us_ringback_is_440_and_480_for_2_s_then_4_s_off() {
        let ringback = Country::Us.tones().ringback;
        let on440 = on_frames(&ringback, 440.0, 400);
        let on480 = on_frames(&ringback, 480.0, 400);
        let on620 = on_frames(&ringback, 620.0, 400);
        let expected: Vec<bool> = (0..400).map(|i| !(100..300).contains(&i)).collect();
        assert_eq!(on440, expected);
        assert_eq!(on480, expected);
        assert!(on620.iter().all(|on| !on));
    }

    #[test]
    fn uk_ringback_rings_twice_per_three_seconds() {
        let on = on_frames(&Country::Uk.tones().ringback, 400.0, 150);
        // 400 on, 200 off, 400 on, 2000 off = 20, 10, 20, 100 frames.
        let expected: Vec<bool> = (0..150).map(|i| i < 20 || (30..50).contains(&i)).collect();
        assert_eq!(on, expected);
    }

    #[test]
    fn busy_tones_follow_their_cadence() {
        let us = on_frames(&Country::Us.tones().busy, 620.0, 100);
        assert_eq!(us, (0..100).map(|i| (i / 25) % 2 == 0).collect::<Vec<_>>());
        let eu = on_frames(&Country::Eu.tones().busy, 425.0, 100);
        assert_eq!(eu, (0..100).map(|i| (i / 25) % 2 == 0).collect::<Vec<_>>());
    }

    #[test]
    fn confirmation_plays_once_and_finishes() {
        let mut generator = ToneGenerator::new(&Country::Eu.tones().confirmation).unwrap();
        let frames: Vec<Frame> = (0..30).map(|_| generator.next_frame()).collect();
        assert!(generator.is_finished());
        // 500 ms = 25 frames of tone and gaps, then silence for good.
        assert!(frames[..25].iter().any(|f| f.iter().any(|&s| s != 0)));
        assert!(frames[25..].iter().all(|f| f.iter().all(|&s| s == 0)));
        assert!(detect(&frames[0], 425.0).ratio > 0.9);
    }

    #[test]
    fn the_level_is_the_configured_dbm0() {
        let tone = Tone::cadence(&[1000], &[1000], -10, true);
        let frame = ToneGenerator::new(&tone).unwrap().next_frame();
        let expected = ZERO_DBM0_PEAK * 10f64.powf(-0.5);
        let measured = detect(&frame, 1000.0).amplitude;
        assert!(
            (measured - expected).abs() / expected < 0.02,
            "{measured} vs {expected}"
        );
    }

    #[test]
    fn the_phase_runs_on_across_frames() {
        let tone = Tone::cadence(&[1000], &[1000], -10, true);
        let mut generator = ToneGenerator::new(&tone).unwrap();
        let mut joined = generator.next_frame().to_vec();
        joined.extend_from_slice(&generator.next_frame());
        let d = detect(&joined, 1000.0);
        assert!(d.ratio > 0.99, "no discontinuity at the frame edge: {d:?}");
    }

    #[test]
    fn invalid_tones_are_refused() {
        let cases = [
            (
                Tone::cadence(&[440], &[], -10, true),
                ToneError::EmptyCadence,
            ),
            (
                Tone::cadence(&[440], &[0, 0], -10, true),
                ToneError::EmptyCadence,
            ),
            (
                Tone::cadence(&[4000], &[100], -10, true),
                ToneError::BadFrequency { step: 0, hz: 4000 },
            ),
            (
                Tone::cadence(&[0], &[100], -10, true),
                ToneError::BadFrequency { step: 0, hz: 0 },
            ),
            (
                Tone::cadence(&[440], &[100], 4, true),
                ToneError::LevelTooHigh { level_dbm0: 4 },
            ),
        ];
        for (tone, expected) in cases {
            assert_eq!(ToneGenerator::new(&tone).err(), Some(expected), "{tone:?}");
        }
    }

    #[test]
    fn every_preset_is_valid_and_country_codes_parse() {
        for code in ["us", "UK", "gb", "eu"] {
            let tones = Country::from_code(code).unwrap().tones();
            for tone in [
                &tones.ringback,
                &tones.busy,
                &tones.confirmation,
                &tones.warning,
            ] {
                assert_eq!(tone.validate(), Ok(()), "{code}");
            }
            assert!(tones.ringback.repeat && tones.busy.repeat);
            assert!(!tones.confirmation.repeat && !tones.warning.repeat);
        }
        assert_eq!(Country::from_code("fr"), None);
    }
}
