//! What the media plane can play: the tones of `media.country` (with `[media.tones]`
//! overrides) and the announcements of `[media.announcements]`, read once at start.
//!
//! One announcement is built in, so a fresh install has something to play without shipping
//! audio files: `chime`, three rising notes (generated, 0.6 s). A file configured under the
//! same name replaces it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use callcomp_media::tone::{Tone, ToneGenerator, ToneSet};
use callcomp_media::wav::{self, WavError};
use thiserror::Error;

use crate::config::MediaConfig;

use super::ToneKind;

/// The name of the built-in announcement.
pub const BUILTIN_CHIME: &str = "chime";

/// An announcement file that cannot be played.
#[derive(Debug, Error)]
pub enum SoundsError {
    /// The file cannot be read.
    #[error("media.announcements.{name}: cannot read {}: {source}", path.display())]
    Read {
        /// The announcement's name.
        name: String,
        /// Its file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an 8 kHz mono WAV file.
    #[error("media.announcements.{name}: {}: {source}", path.display())]
    Wav {
        /// The announcement's name.
        name: String,
        /// Its file.
        path: PathBuf,
        /// Why.
        source: WavError,
    },
}

/// Tones and announcements, ready to play.
#[derive(Debug, Clone)]
pub struct Sounds {
    tones: ToneSet,
    announcements: HashMap<String, Arc<[i16]>>,
}

impl Sounds {
    /// Reads the configured announcement files.
    pub fn load(config: &MediaConfig) -> Result<Self, SoundsError> {
        let mut sounds = Sounds::builtin(config.tone_set());
        for (name, path) in &config.announcements {
            let bytes = std::fs::read(path).map_err(|source| SoundsError::Read {
                name: name.clone(),
                path: path.clone(),
                source,
            })?;
            let samples = wav::parse(&bytes).map_err(|source| SoundsError::Wav {
                name: name.clone(),
                path: path.clone(),
                source,
            })?;
            sounds.announcements.insert(name.clone(), samples.into());
        }
        Ok(sounds)
    }

    /// The tones given and the built-in announcement only.
    pub fn builtin(tones: ToneSet) -> Self {
        let mut announcements = HashMap::new();
        announcements.insert(BUILTIN_CHIME.to_owned(), chime());
        Sounds {
            tones,
            announcements,
        }
    }

    /// A generator for a tone; `None` for a tone that cannot be played (validated at load).
    pub fn tone(&self, kind: ToneKind) -> Option<ToneGenerator> {
        let tone = match kind {
            ToneKind::Ringback => &self.tones.ringback,
            ToneKind::Busy => &self.tones.busy,
            ToneKind::Confirmation => &self.tones.confirmation,
            ToneKind::Warning => &self.tones.warning,
        };
        ToneGenerator::new(tone).ok()
    }

    /// An announcement's samples.
    pub fn announcement(&self, name: &str) -> Option<Arc<[i16]>> {
        self.announcements.get(name).cloned()
    }
}

/// Three rising notes of 200 ms (C6, E6, G6 at −13 dBm0).
fn chime() -> Arc<[i16]> {
    let mut samples = Vec::new();
    for hz in [1047u16, 1319, 1568] {
        let tone = Tone::cadence(&[hz], &[200], -13, false);
        if let Ok(mut generator) = ToneGenerator::new(&tone) {
            let mut note = [0i16; 1600];
            generator.fill(&mut note);
            samples.extend_from_slice(&note);
        }
    }
    samples.into()
}

#[cfg(test)]
mod tests {
    use callcomp_media::goertzel;

    use super::*;

    #[test]
    fn reads_a_configured_wav_and_keeps_the_builtin_chime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recall.wav");
        std::fs::write(&path, wav::write(&[100, -100, 200])).unwrap();
        let mut config = MediaConfig::default();
        config.announcements.insert("recall".into(), path);
        let sounds = Sounds::load(&config).unwrap();
        assert_eq!(
            sounds.announcement("recall").as_deref(),
            Some(&[100, -100, 200][..])
        );
        let chime = sounds.announcement(BUILTIN_CHIME).unwrap();
        assert_eq!(chime.len(), 4800);
        assert!(goertzel::present(&chime[..1600], 1047.0, 0.9, 1000.0));
        assert!(goertzel::present(&chime[3200..], 1568.0, 0.9, 1000.0));
    }

    #[test]
    fn a_bad_announcement_file_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = MediaConfig::default();
        config
            .announcements
            .insert("gone".into(), dir.path().join("missing.wav"));
        let e = Sounds::load(&config).unwrap_err().to_string();
        assert!(
            e.starts_with("media.announcements.gone: cannot read"),
            "{e}"
        );

        let text = dir.path().join("text.wav");
        std::fs::write(&text, "hello").unwrap();
        let mut config = MediaConfig::default();
        config.announcements.insert("text".into(), text);
        let e = Sounds::load(&config).unwrap_err().to_string();
        assert!(
            e.contains("media.announcements.text:") && e.contains("not a RIFF WAVE"),
            "{e}"
        );
    }

    #[test]
    fn tone_overrides_replace_the_country_preset() {
        let mut config = MediaConfig::default();
        config.tones.busy = Some(crate::config::media::ToneConfig {
            frequencies: vec![600],
            cadence_ms: vec![100, 100],
            level_dbm0: -10,
            repeat: true,
        });
        let sounds = Sounds::builtin(config.tone_set());
        let busy = sounds.tone(ToneKind::Busy).unwrap().next_frame();
        assert!(goertzel::present(&busy, 600.0, 0.9, 1000.0));
        let ringback = sounds.tone(ToneKind::Ringback).unwrap().next_frame();
        assert!(
            goertzel::present(&ringback, 425.0, 0.9, 1000.0),
            "eu preset kept"
        );
    }
}
