//! A queue of prompts played 20 ms at a time: tones from their generators, announcements from
//! their samples. A repeating tone never ends; anything else ends and the next prompt starts.

use std::collections::VecDeque;
use std::sync::Arc;

use callcomp_media::tone::ToneGenerator;
use callcomp_media::{Frame, FRAME_SAMPLES};

use super::sounds::Sounds;
use super::Prompt;

/// Plays prompts in order.
#[derive(Debug, Clone, Default)]
pub struct Player {
    queue: VecDeque<Source>,
}

#[derive(Debug, Clone)]
enum Source {
    Tone(ToneGenerator),
    Samples { samples: Arc<[i16]>, at: usize },
}

impl Player {
    /// A player of `prompts`; a prompt the sounds do not have is skipped with a warning.
    pub fn new(prompts: &[Prompt], sounds: &Sounds) -> Self {
        let queue = prompts
            .iter()
            .filter_map(|prompt| {
                let source = match prompt {
                    Prompt::Tone(kind) => sounds.tone(*kind).map(Source::Tone),
                    Prompt::Announcement(name) => sounds
                        .announcement(name)
                        .map(|samples| Source::Samples { samples, at: 0 }),
                };
                if source.is_none() {
                    tracing::warn!(?prompt, "media: nothing to play for this prompt");
                }
                source
            })
            .collect();
        Player { queue }
    }

    /// True once everything has played.
    pub fn is_finished(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next 20 ms, or `None` once finished. A prompt ending inside a frame is followed by
    /// the next one in the same frame.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if self.queue.is_empty() {
            return None;
        }
        let mut frame = [0i16; FRAME_SAMPLES];
        let mut filled = 0;
        while filled < FRAME_SAMPLES {
            let Some(source) = self.queue.front_mut() else {
                break;
            };
            let out = &mut frame[filled..];
            match source {
                Source::Tone(generator) => {
                    generator.fill(out);
                    if generator.is_finished() {
                        // The generator pads with silence once it ends; the next prompt
                        // starts where this frame began (a tone's cadence is in whole 20 ms
                        // steps here, so nothing audible is cut).
                        self.queue.pop_front();
                        continue;
                    }
                    filled = FRAME_SAMPLES;
                }
                Source::Samples { samples, at } => {
                    let n = out.len().min(samples.len() - *at);
                    out[..n].copy_from_slice(&samples[*at..*at + n]);
                    *at += n;
                    filled += n;
                    if *at == samples.len() {
                        self.queue.pop_front();
                    }
                }
            }
        }
        (filled > 0).then_some(frame)
    }
}

#[cfg(test)]
mod tests {
    use callcomp_media::goertzel;
    use callcomp_media::tone::Country;

    use super::*;
    use crate::media::ToneKind;

    #[test]
    fn an_announcement_then_ringback_that_repeats() {
        let sounds = Sounds::builtin(Country::Us.tones());
        let mut player = Player::new(
            &[
                Prompt::Announcement("chime".into()),
                Prompt::Tone(ToneKind::Ringback),
            ],
            &sounds,
        );
        // The chime is 4800 samples: 30 frames.
        let first = player.next_frame().unwrap();
        assert!(goertzel::present(&first, 1047.0, 0.9, 1000.0));
        for _ in 1..30 {
            player.next_frame().unwrap();
        }
        let ringback = player.next_frame().unwrap();
        assert!(goertzel::present(&ringback, 440.0, 0.3, 500.0));
        assert!(goertzel::present(&ringback, 480.0, 0.3, 500.0));
        for _ in 0..1000 {
            assert!(player.next_frame().is_some(), "ringback repeats");
        }
    }

    #[test]
    fn a_tone_that_ends_finishes_the_player_and_unknown_prompts_are_skipped() {
        let sounds = Sounds::builtin(Country::Eu.tones());
        let mut player = Player::new(
            &[
                Prompt::Announcement("nope".into()),
                Prompt::Tone(ToneKind::Confirmation),
            ],
            &sounds,
        );
        // 500 ms of confirmation: 25 frames.
        let mut frames = 0;
        while player.next_frame().is_some() {
            frames += 1;
            assert!(frames < 100, "a tone played once ends");
        }
        assert_eq!(frames, 25);
        assert!(player.is_finished());
    }
}
