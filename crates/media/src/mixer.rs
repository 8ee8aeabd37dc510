//! An N-party conference mix: each party hears the sum of everyone else, never itself, added
//! in 32 bits and saturated to 16 (clipping, not wrapping, when the talkers are loud). Frames
//! are 20 ms of linear PCM; the server decodes what each party sent, mixes once per tick and
//! encodes each party's mix in the party's own codec.
//!
//! The sum of all inputs is computed once and each party's own input subtracted from it, so a
//! tick costs O(N) rather than O(N²). An overlay (a tone or an announcement, e.g. the warning
//! tone of an intrusion) can be added to every party's mix.

use thiserror::Error;

use crate::{Frame, FRAME_SAMPLES};

/// Mixes `inputs[i]` into `outputs[i]`: the sum of all inputs minus `inputs[i]`, saturated,
/// plus `overlay`. Give as many outputs as inputs: an input beyond the outputs is still heard
/// by the others but gets no mix, an output beyond the inputs is left untouched.
pub fn mix_frames(inputs: &[Frame], overlay: Option<&Frame>, outputs: &mut [Frame]) {
    let mut sum = [0i32; FRAME_SAMPLES];
    for input in inputs {
        for (acc, &x) in sum.iter_mut().zip(input) {
            *acc += i32::from(x);
        }
    }
    if let Some(overlay) = overlay {
        for (acc, &x) in sum.iter_mut().zip(overlay) {
            *acc += i32::from(x);
        }
    }
    for (input, output) in inputs.iter().zip(outputs.iter_mut()) {
        for ((out, &total), &own) in output.iter_mut().zip(&sum).zip(input) {
            *out = saturate(total - i32::from(own));
        }
    }
}

/// A party of a [`Mixer`], as the server names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartyId(pub u64);

/// Why a mixer refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MixerError {
    /// The party is already in the mix.
    #[error("party {party:?} is already in the mix")]
    AlreadyJoined {
        /// The party.
        party: PartyId,
    },
    /// The party is not in the mix.
    #[error("party {party:?} is not in the mix")]
    UnknownParty {
        /// The party.
        party: PartyId,
    },
}

/// A conference of parties joining and leaving, mixed one frame per tick.
#[derive(Debug, Clone, Default)]
pub struct Mixer {
    ids: Vec<PartyId>,
    inputs: Vec<Frame>,
    outputs: Vec<Frame>,
}

impl Mixer {
    /// An empty mix.
    pub fn new() -> Self {
        Mixer::default()
    }

    /// Adds a party; it contributes silence until its first frame.
    pub fn join(&mut self, party: PartyId) -> Result<(), MixerError> {
        if self.ids.contains(&party) {
            return Err(MixerError::AlreadyJoined { party });
        }
        self.ids.push(party);
        self.inputs.push([0; FRAME_SAMPLES]);
        self.outputs.push([0; FRAME_SAMPLES]);
        Ok(())
    }

    /// Removes a party; the others go on hearing each other.
    pub fn leave(&mut self, party: PartyId) -> Result<(), MixerError> {
        let index = self.index(party)?;
        self.ids.remove(index);
        self.inputs.remove(index);
        self.outputs.remove(index);
        Ok(())
    }

    /// The parties, in the order they joined.
    pub fn parties(&self) -> &[PartyId] {
        &self.ids
    }

    /// Sets what `party` said this tick.
    pub fn set_input(&mut self, party: PartyId, frame: &Frame) -> Result<(), MixerError> {
        let index = self.index(party)?;
        self.inputs[index] = *frame;
        Ok(())
    }

    /// Mixes this tick and returns what each party hears, in [`parties`](Self::parties) order.
    /// Inputs are consumed: a party that sends nothing before the next tick (a lost packet, a
    /// held phone) contributes silence then.
    pub fn mix(&mut self, overlay: Option<&Frame>) -> impl Iterator<Item = (PartyId, &Frame)> {
        mix_frames(&self.inputs, overlay, &mut self.outputs);
        for input in &mut self.inputs {
            *input = [0; FRAME_SAMPLES];
        }
        self.ids.iter().copied().zip(self.outputs.iter())
    }

    fn index(&self, party: PartyId) -> Result<usize, MixerError> {
        self.ids
            .iter()
            .position(|&p| p == party)
            .ok_or(MixerError::UnknownParty { party })
    }
}

fn saturate(x: i32) -> i16 {
    // The clamp makes the cast exact.
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(value: i16) -> Frame {
        [value; FRAME_SAMPLES]
    }

    #[test]
    fn each_party_hears_the_sum_of_the_others() {
        let inputs = [flat(100), flat(20), flat(-3)];
        let mut outputs = [flat(0); 3];
        mix_frames(&inputs, None, &mut outputs);
        assert_eq!(outputs[0], flat(17));
        assert_eq!(outputs[1], flat(97));
        assert_eq!(outputs[2], flat(120));
    }

    #[test]
    fn loud_sums_saturate_instead_of_wrapping() {
        let inputs = [
            flat(30_000),
            flat(30_000),
            flat(0),
            flat(-30_000),
            flat(-30_000),
        ];
        let mut outputs = [flat(0); 5];
        mix_frames(&inputs[..3], None, &mut outputs[..3]);
        assert_eq!(outputs[2], flat(i16::MAX));
        assert_eq!(outputs[0], flat(30_000));
        let negative = [flat(-30_000), flat(-30_000), flat(0)];
        mix_frames(&negative, None, &mut outputs[..3]);
        assert_eq!(outputs[2], flat(i16::MIN));
    }

    #[test]
    fn the_overlay_reaches_every_party() {
        let inputs = [flat(10), flat(20)];
        let mut outputs = [flat(0); 2];
        mix_frames(&inputs, Some(&flat(5)), &mut outputs);
        assert_eq!(outputs, [flat(25), flat(15)]);
    }

    #[test]
    fn parties_join_and_leave_and_inputs_last_one_tick() {
        let (a, b, c) = (PartyId(1), PartyId(2), PartyId(3));
        let mut mixer = Mixer::new();
        mixer.join(a).unwrap();
        mixer.join(b).unwrap();
        assert_eq!(mixer.join(a), Err(MixerError::AlreadyJoined { party: a }));
        mixer.set_input(a, &flat(7)).unwrap();
        mixer.set_input(b, &flat(9)).unwrap();
        let heard: Vec<(PartyId, i16)> = mixer.mix(None).map(|(p, f)| (p, f[0])).collect();
        assert_eq!(heard, vec![(a, 9), (b, 7)]);
        // The intruder joins: everyone hears the other two.
        mixer.join(c).unwrap();
        mixer.set_input(a, &flat(1)).unwrap();
        mixer.set_input(b, &flat(10)).unwrap();
        mixer.set_input(c, &flat(100)).unwrap();
        let heard: Vec<i16> = mixer.mix(None).map(|(_, f)| f[0]).collect();
        assert_eq!(heard, vec![110, 101, 11]);
        // Nobody spoke this tick: silence, not last tick's audio.
        let heard: Vec<i16> = mixer.mix(None).map(|(_, f)| f[0]).collect();
        assert_eq!(heard, vec![0, 0, 0]);
        // The intruder leaves: the two hear each other again.
        mixer.leave(c).unwrap();
        assert_eq!(mixer.leave(c), Err(MixerError::UnknownParty { party: c }));
        assert_eq!(
            mixer.set_input(c, &flat(1)),
            Err(MixerError::UnknownParty { party: c })
        );
        mixer.set_input(a, &flat(4)).unwrap();
        mixer.set_input(b, &flat(6)).unwrap();
        let heard: Vec<(PartyId, i16)> = mixer.mix(None).map(|(p, f)| (p, f[0])).collect();
        assert_eq!(heard, vec![(a, 6), (b, 4)]);
        assert_eq!(mixer.parties(), &[a, b]);
    }

    #[test]
    fn a_lone_party_hears_only_the_overlay() {
        let mut mixer = Mixer::new();
        mixer.join(PartyId(1)).unwrap();
        mixer.set_input(PartyId(1), &flat(500)).unwrap();
        let heard: Vec<i16> = mixer.mix(Some(&flat(3))).map(|(_, f)| f[0]).collect();
        assert_eq!(heard, vec![3]);
    }
}
