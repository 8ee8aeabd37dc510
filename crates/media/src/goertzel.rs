//! Single-frequency detection with the Goertzel algorithm (G. Goertzel, 1958; the form used for
//! DTMF detection in ITU-T Q.24 receivers): one second-order filter per frequency, cheaper than
//! an FFT when only a few frequencies matter. Used to check what a party hears: ringback, busy,
//! a warning tone, another party's test tone.

use crate::SAMPLE_RATE;

/// How strongly one frequency is present in a block of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Share of the block's energy at this frequency: about 1.0 for a pure tone at it, about
    /// 0.0 when absent (0.0 for silence).
    pub ratio: f64,
    /// The estimated peak amplitude of the frequency's sine, in linear sample units.
    pub amplitude: f64,
}

/// Measures `frequency_hz` in `samples` (8 kHz). For a clean reading the block should hold
/// a whole number of the tone's periods or be long (160 samples, 20 ms, resolves 50 Hz).
pub fn detect(samples: &[i16], frequency_hz: f64) -> Detection {
    let n = samples.len();
    if n == 0 {
        return Detection {
            ratio: 0.0,
            amplitude: 0.0,
        };
    }
    let omega = 2.0 * std::f64::consts::PI * frequency_hz / f64::from(SAMPLE_RATE);
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut energy = 0.0f64;
    for &x in samples {
        let x = f64::from(x);
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
        energy += x * x;
    }
    // |X(ω)|² from the filter's last two states.
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    let n = n as f64;
    let amplitude = 2.0 * power.sqrt() / n;
    // A sine of amplitude A over n samples has energy A²n/2 and |X|² = (An/2)².
    let ratio = if energy > 0.0 {
        (power / (n / 2.0 * energy)).min(1.0)
    } else {
        0.0
    };
    Detection { ratio, amplitude }
}

/// True when `frequency_hz` carries at least `min_ratio` of the block's energy and the block
/// is louder than `min_amplitude`.
pub fn present(samples: &[i16], frequency_hz: f64, min_ratio: f64, min_amplitude: f64) -> bool {
    let d = detect(samples, frequency_hz);
    d.ratio >= min_ratio && d.amplitude >= min_amplitude
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amplitude: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(SAMPLE_RATE);
                (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
            })
            .collect()
    }

    #[test]
    fn a_pure_tone_is_found_at_its_frequency_only() {
        let tone = sine(440.0, 8000.0, 800);
        let at = detect(&tone, 440.0);
        assert!(at.ratio > 0.95, "{at:?}");
        assert!((at.amplitude - 8000.0).abs() < 200.0, "{at:?}");
        for other in [350.0, 480.0, 620.0, 1000.0] {
            assert!(detect(&tone, other).ratio < 0.05, "{other} Hz");
        }
    }

    #[test]
    fn two_tones_share_the_energy() {
        let a = sine(440.0, 5000.0, 1600);
        let b = sine(480.0, 5000.0, 1600);
        let both: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let d440 = detect(&both, 440.0);
        let d480 = detect(&both, 480.0);
        assert!((d440.ratio - 0.5).abs() < 0.05, "{d440:?}");
        assert!((d480.ratio - 0.5).abs() < 0.05, "{d480:?}");
        assert!(present(&both, 440.0, 0.3, 1000.0));
        assert!(!present(&both, 620.0, 0.3, 1000.0));
    }

    #[test]
    fn silence_and_empty_blocks_have_nothing() {
        assert_eq!(detect(&[0; 160], 440.0).ratio, 0.0);
        assert_eq!(detect(&[], 440.0).amplitude, 0.0);
        assert!(!present(&[0; 160], 440.0, 0.1, 0.0));
    }
}
