//! Prosody contours of a 16 kHz signal: F0 by YIN (de Cheveigné & Kawahara 2002) and intensity in
//! dB, every 10 ms, the values a linguist reads off Praat.
//!
//! YIN's difference function of each 40 ms frame is computed through FFT cross-correlation
//! (realfft), so a 1-hour recording costs about a million small FFTs; frames are split over the
//! available cores. A frame is voiced when its cumulative-mean-normalised difference dips below
//! [`YIN_THRESHOLD`] (or, in noise, its deepest dip below [`YIN_NOISY_THRESHOLD`]) and its intensity is within [`VOICING_RANGE_DB`] of the loudest frame's.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// Analysis frame: 40 ms, three periods of the lowest F0 we look for.
pub const FRAME_LEN: usize = 640;
/// 10 ms between frames.
pub const HOP_LEN: usize = 160;
pub const SAMPLE_RATE_HZ: u32 = 16_000;
pub const MIN_F0_HZ: f32 = 60.0;
pub const MAX_F0_HZ: f32 = 500.0;
const YIN_THRESHOLD: f32 = 0.15;
/// In noise the first dip rarely gets below [`YIN_THRESHOLD`]: then the deepest dip counts if it
/// is below this (YIN's "best local estimate").
const YIN_NOISY_THRESHOLD: f32 = 0.6;
const VOICING_RANGE_DB: f32 = 30.0;

/// F0 (Hz, NaN where unvoiced) and intensity (dB re full scale) per frame; frame `i` is centred at
/// `(i * HOP_LEN + FRAME_LEN / 2) / 16 kHz`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProsodyTrack {
    pub f0_hz: Vec<f32>,
    pub intensity_db: Vec<f32>,
}

impl ProsodyTrack {
    pub const HOP_S: f64 = HOP_LEN as f64 / SAMPLE_RATE_HZ as f64;

    #[must_use]
    pub fn frame_time_s(frame: usize) -> f64 {
        (frame * HOP_LEN + FRAME_LEN / 2) as f64 / f64::from(SAMPLE_RATE_HZ)
    }

    /// Semitones of `hz` relative to 100 Hz (Praat's default reference).
    #[must_use]
    pub fn semitones_re_100hz(hz: f32) -> f32 {
        12.0 * (hz / 100.0).log2()
    }
}

fn max_lag() -> usize {
    (SAMPLE_RATE_HZ as f32 / MIN_F0_HZ).ceil() as usize
}

/// One worker's FFT plans and buffers.
struct Yin {
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn realfft::ComplexToReal<f32>>,
    base: Vec<f32>,
    window: Vec<f32>,
    base_spectrum: Vec<realfft::num_complex::Complex<f32>>,
    window_spectrum: Vec<realfft::num_complex::Complex<f32>>,
    correlation: Vec<f32>,
    normalised: Vec<f32>,
}

impl Yin {
    fn new() -> Self {
        let size = (FRAME_LEN + max_lag() + FRAME_LEN).next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(size);
        let inverse = planner.plan_fft_inverse(size);
        Self {
            base: forward.make_input_vec(),
            window: forward.make_input_vec(),
            base_spectrum: forward.make_output_vec(),
            window_spectrum: forward.make_output_vec(),
            correlation: inverse.make_output_vec(),
            normalised: vec![1.0; max_lag() + 1],
            forward,
            inverse,
        }
    }

    /// F0 of the frame starting at `start` (the signal must hold `FRAME_LEN + max_lag()` samples
    /// from there), or NaN.
    fn f0(&mut self, signal: &[f32], start: usize) -> f32 {
        let lags = max_lag();
        let span = &signal[start..start + FRAME_LEN + lags];
        self.base.fill(0.0);
        self.base[..FRAME_LEN].copy_from_slice(&span[..FRAME_LEN]);
        self.window.fill(0.0);
        self.window[..span.len()].copy_from_slice(span);
        if self
            .forward
            .process(&mut self.base, &mut self.base_spectrum)
            .is_err()
            || self
                .forward
                .process(&mut self.window, &mut self.window_spectrum)
                .is_err()
        {
            return f32::NAN;
        }
        for (w, b) in self.window_spectrum.iter_mut().zip(&self.base_spectrum) {
            *w *= b.conj();
        }
        if self
            .inverse
            .process(&mut self.window_spectrum, &mut self.correlation)
            .is_err()
        {
            return f32::NAN;
        }
        let scale = 1.0 / self.correlation.len() as f32;
        // d(tau) = E(base) + E(window shifted by tau) - 2 r(tau), energies from running sums.
        let energy_base: f32 = span[..FRAME_LEN].iter().map(|x| x * x).sum();
        let mut energy_shifted = energy_base;
        let mut cumulative = 0.0;
        self.normalised[0] = 1.0;
        for tau in 1..=lags {
            energy_shifted += span[tau + FRAME_LEN - 1].powi(2) - span[tau - 1].powi(2);
            let difference =
                (energy_base + energy_shifted - 2.0 * self.correlation[tau] * scale).max(0.0);
            cumulative += difference;
            self.normalised[tau] = if cumulative > 0.0 {
                difference * tau as f32 / cumulative
            } else {
                1.0
            };
        }
        let min_lag = (SAMPLE_RATE_HZ as f32 / MAX_F0_HZ).floor() as usize;
        let deepest = (min_lag..lags)
            .min_by(|&a, &b| self.normalised[a].total_cmp(&self.normalised[b]))
            .filter(|&tau| self.normalised[tau] < YIN_NOISY_THRESHOLD);
        let Some(mut lag) = (min_lag..lags)
            .find(|&tau| self.normalised[tau] < YIN_THRESHOLD)
            .or(deepest)
        else {
            return f32::NAN;
        };
        while lag + 1 < lags && self.normalised[lag + 1] < self.normalised[lag] {
            lag += 1;
        }
        // Parabolic interpolation around the dip.
        let (a, b, c) = (
            self.normalised[lag - 1],
            self.normalised[lag],
            self.normalised[lag + 1],
        );
        let denominator = a - 2.0 * b + c;
        let offset = if denominator.abs() > f32::EPSILON {
            0.5 * (a - c) / denominator
        } else {
            0.0
        };
        SAMPLE_RATE_HZ as f32 / (lag as f32 + offset.clamp(-1.0, 1.0))
    }
}

/// Intensity of each frame: 10 log10 of the mean square over its 40 ms, floored at -120 dB.
fn intensities(signal: &[f32], frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| {
            let frame = &signal[i * HOP_LEN..(i * HOP_LEN + FRAME_LEN).min(signal.len())];
            let power = frame.iter().map(|x| x * x).sum::<f32>() / FRAME_LEN as f32;
            10.0 * power.max(1e-12).log10()
        })
        .collect()
}

/// The prosody contours of a 16 kHz mono signal, using up to `threads` cores.
#[must_use]
pub fn prosody_track(signal: &[f32], threads: usize) -> ProsodyTrack {
    if signal.len() < FRAME_LEN {
        return ProsodyTrack::default();
    }
    let frames = (signal.len() - FRAME_LEN) / HOP_LEN + 1;
    let intensity_db = intensities(signal, frames);
    let loudest = intensity_db
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    // YIN needs FRAME_LEN + max_lag samples per frame: the tail is padded with zeros.
    let mut padded = signal.to_vec();
    padded.resize((frames - 1) * HOP_LEN + FRAME_LEN + max_lag(), 0.0);
    let mut f0_hz = vec![f32::NAN; frames];
    let per_thread = frames.div_ceil(threads.max(1));
    std::thread::scope(|scope| {
        for (part, chunk) in f0_hz.chunks_mut(per_thread).enumerate() {
            let (padded, intensity_db) = (&padded, &intensity_db);
            scope.spawn(move || {
                let mut yin = Yin::new();
                for (k, value) in chunk.iter_mut().enumerate() {
                    let frame = part * per_thread + k;
                    if intensity_db[frame] >= loudest - VOICING_RANGE_DB {
                        *value = yin.f0(padded, frame * HOP_LEN);
                    }
                }
            });
        }
    });
    ProsodyTrack {
        f0_hz,
        intensity_db,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, seconds: f32) -> Vec<f32> {
        (0..(seconds * SAMPLE_RATE_HZ as f32) as usize)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE_HZ as f32;
                // A few harmonics, like a voice, so YIN cannot lock onto a lone partial.
                (1..=4)
                    .map(|k| (2.0 * std::f32::consts::PI * hz * k as f32 * t).sin() / k as f32)
                    .sum::<f32>()
                    * 0.2
            })
            .collect()
    }

    #[test]
    fn steady_tones_read_their_frequency() {
        for hz in [75.0, 110.0, 220.0, 440.0] {
            let track = prosody_track(&tone(hz, 0.5), 2);
            let voiced: Vec<f32> = track
                .f0_hz
                .iter()
                .copied()
                .filter(|f| f.is_finite())
                .collect();
            assert!(
                voiced.len() >= track.f0_hz.len() - 1,
                "{hz}: {:?}",
                track.f0_hz
            );
            for f0 in voiced {
                assert!((f0 - hz).abs() / hz < 0.005, "{hz} read as {f0}");
            }
        }
    }

    #[test]
    fn silence_and_noise_are_unvoiced_and_intensity_follows_the_level() {
        let mut signal = vec![0.0; 8000];
        let mut rng = fastrand::Rng::with_seed(1);
        signal.extend((0..8000).map(|_| (rng.f32() - 0.5) * 0.5));
        let loud = tone(200.0, 0.5);
        signal.extend(&loud);
        let track = prosody_track(&signal, 1);
        let frame_at = |seconds: f64| ((seconds * 16000.0) as usize) / HOP_LEN;
        assert!(track.f0_hz[frame_at(0.1)].is_nan());
        assert!(
            track.f0_hz[frame_at(0.7)].is_nan(),
            "white noise has no pitch"
        );
        assert!((track.f0_hz[frame_at(1.2)] - 200.0).abs() < 1.0);
        assert!(track.intensity_db[frame_at(0.1)] <= -119.0);
        let quiet: Vec<f32> = loud.iter().map(|x| x * 0.1).collect();
        let (a, b) = (prosody_track(&loud, 1), prosody_track(&quiet, 1));
        assert!((a.intensity_db[5] - b.intensity_db[5] - 20.0).abs() < 0.01);
    }

    #[test]
    fn threads_do_not_change_the_result() {
        let mut signal = tone(130.0, 0.7);
        signal.extend(tone(260.0, 0.6));
        assert_eq!(prosody_track(&signal, 1), prosody_track(&signal, 3));
    }
}
