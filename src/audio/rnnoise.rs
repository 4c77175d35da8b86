//! RNNoise (the `nnnoiseless` crate, weights built in): the classic enhancement baseline that
//! Sparse MERIT's enhanced audio is compared against, in evaluation and in A/B playback.

use nnnoiseless::DenoiseState;

use super::resample::{ANALYSIS_RATE_HZ, ResampleError, resample};

/// RNNoise works on 48 kHz frames of 480 samples.
const RNNOISE_RATE_HZ: u32 = 48_000;
const FRAME: usize = DenoiseState::FRAME_SIZE;
/// RNNoise's output lags its input by one frame.
const DELAY: usize = FRAME;

/// Denoises a 16 kHz mono signal; the output has the same length and is time-aligned with the input.
///
/// # Errors
/// Resampling to or from 48 kHz fails (only for degenerate inputs).
pub fn denoise_16k(mono: &[f32]) -> Result<Vec<f32>, ResampleError> {
    if mono.is_empty() {
        return Ok(Vec::new());
    }
    let mut input = resample(mono, ANALYSIS_RATE_HZ, RNNOISE_RATE_HZ)?;
    let wanted = input.len();
    // Pad so the last real samples come out despite the delay, and to whole frames.
    input.resize((wanted + DELAY).div_ceil(FRAME) * FRAME, 0.0);
    let mut state = DenoiseState::new();
    let mut output = Vec::with_capacity(input.len());
    let mut frame_out = [0.0_f32; FRAME];
    let mut frame_in = [0.0_f32; FRAME];
    for chunk in input.chunks_exact(FRAME) {
        for (scaled, &sample) in frame_in.iter_mut().zip(chunk) {
            *scaled = sample * 32_768.0;
        }
        state.process_frame(&mut frame_out, &frame_in);
        output.extend(frame_out.iter().map(|s| s / 32_768.0));
    }
    let aligned = &output[DELAY..DELAY + wanted];
    let mut result = resample(aligned, RNNOISE_RATE_HZ, ANALYSIS_RATE_HZ)?;
    result.resize(mono.len(), 0.0);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as f32 / u32::MAX as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn keeps_length_and_alignment_and_removes_steady_noise() {
        // A voiced-like burst (harmonic tone, on for 0.5 s in the middle) in white noise.
        let rate = 16_000.0;
        let clean: Vec<f32> = (0..48_000)
            .map(|i| {
                let t = i as f32 / rate;
                let on = (1.0..1.5).contains(&t);
                if on {
                    (1..5)
                        .map(|h| {
                            0.1 * (2.0 * std::f32::consts::PI * 150.0 * h as f32 * t).sin()
                                / h as f32
                        })
                        .sum()
                } else {
                    0.0
                }
            })
            .collect();
        let noisy: Vec<f32> = clean
            .iter()
            .zip(noise(48_000, 7))
            .map(|(c, n)| c + 0.02 * n)
            .collect();
        let out = denoise_16k(&noisy).unwrap();
        assert_eq!(out.len(), noisy.len());
        let energy = |s: &[f32]| s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32;
        // Steady noise before the burst is strongly reduced...
        assert!(energy(&out[4_000..14_000]) < 0.3 * energy(&noisy[4_000..14_000]));
        // ...and the burst stays where it was: best alignment lag within a millisecond.
        let lag = (-80_i32..=80)
            .max_by(|&a, &b| {
                let corr = |lag: i32| -> f32 {
                    (16_000..24_000)
                        .map(|i| clean[i] * out[(i as i32 + lag) as usize])
                        .sum()
                };
                corr(a).total_cmp(&corr(b))
            })
            .unwrap();
        assert!(
            lag.abs() <= 16,
            "RNNoise output misaligned by {lag} samples"
        );
    }

    #[test]
    fn empty_input_gives_empty_output() {
        assert!(denoise_16k(&[]).unwrap().is_empty());
    }
}
