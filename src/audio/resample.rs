//! Sample-rate conversion to the model's 16 kHz, streaming, with an exact output length.

use rubato::{FftFixedIn, Resampler};

/// The rate Sparse MERIT (and every SSL speech model) takes.
pub const ANALYSIS_RATE_HZ: u32 = 16_000;

const CHUNK_FRAMES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("cannot resample from {from_hz} Hz to {to_hz} Hz: {reason}")]
    Setup {
        from_hz: u32,
        to_hz: u32,
        reason: String,
    },
    #[error("resampler failed: {0}")]
    Process(String),
}

/// Converts a mono signal block by block. The output has exactly
/// `round(input_len * to / from)` samples and is aligned with the input (the filter delay is removed).
pub struct StreamingResampler {
    /// `None` when the rates are equal: samples pass through untouched.
    fft: Option<FftFixedIn<f32>>,
    from_hz: u32,
    to_hz: u32,
    pending: Vec<f32>,
    scratch: Vec<f32>,
    delay_left: usize,
    input_frames: u64,
    output_frames: u64,
}

impl StreamingResampler {
    /// # Errors
    /// [`ResampleError::Setup`] for a 0 Hz rate.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, ResampleError> {
        let setup_error = |reason: String| ResampleError::Setup {
            from_hz,
            to_hz,
            reason,
        };
        if from_hz == 0 || to_hz == 0 {
            return Err(setup_error("rates must be above 0 Hz".into()));
        }
        let fft = if from_hz == to_hz {
            None
        } else {
            Some(
                FftFixedIn::<f32>::new(from_hz as usize, to_hz as usize, CHUNK_FRAMES, 2, 1)
                    .map_err(|e| setup_error(e.to_string()))?,
            )
        };
        let delay_left = fft.as_ref().map_or(0, Resampler::output_delay);
        let scratch_len = fft.as_ref().map_or(0, Resampler::output_frames_max);
        Ok(Self {
            fft,
            from_hz,
            to_hz,
            pending: Vec::with_capacity(CHUNK_FRAMES),
            scratch: vec![0.0; scratch_len],
            delay_left,
            input_frames: 0,
            output_frames: 0,
        })
    }

    /// The output length that `input_frames` input frames resample to.
    #[must_use]
    pub fn output_len_for(input_frames: u64, from_hz: u32, to_hz: u32) -> u64 {
        (u128::from(input_frames) * u128::from(to_hz) + u128::from(from_hz) / 2)
            .checked_div(u128::from(from_hz))
            .map_or(0, |len| u64::try_from(len).unwrap_or(u64::MAX))
    }

    /// Feeds mono samples; appends whatever output is ready to `out`.
    ///
    /// # Errors
    /// [`ResampleError::Process`] if the resampler rejects a chunk.
    pub fn push(&mut self, mono: &[f32], out: &mut Vec<f32>) -> Result<(), ResampleError> {
        self.input_frames += mono.len() as u64;
        if self.fft.is_none() {
            out.extend_from_slice(mono);
            self.output_frames += mono.len() as u64;
            return Ok(());
        }
        let mut rest = mono;
        while !rest.is_empty() {
            let take = (CHUNK_FRAMES - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == CHUNK_FRAMES {
                self.process_pending(false, out)?;
            }
        }
        Ok(())
    }

    /// Flushes the filter tail; the total output then has its exact length.
    ///
    /// # Errors
    /// [`ResampleError::Process`] if the resampler rejects the last chunk.
    pub fn finish(mut self, out: &mut Vec<f32>) -> Result<(), ResampleError> {
        let target = Self::output_len_for(self.input_frames, self.from_hz, self.to_hz);
        if self.fft.is_some() {
            // Partial chunks are zero-padded; keep going until the delayed tail has come out.
            while self.output_frames < target {
                self.process_pending(true, out)?;
            }
        }
        let excess = self.output_frames.saturating_sub(target);
        out.truncate(
            out.len()
                .saturating_sub(usize::try_from(excess).unwrap_or(usize::MAX)),
        );
        Ok(())
    }

    fn process_pending(&mut self, partial: bool, out: &mut Vec<f32>) -> Result<(), ResampleError> {
        let Some(fft) = self.fft.as_mut() else {
            return Ok(());
        };
        let input = [self.pending.as_slice()];
        let mut output = [self.scratch.as_mut_slice()];
        let (_, produced) = if partial {
            // `None` feeds a chunk of silence, which pushes the filter's delayed tail out.
            let partial_input = (!self.pending.is_empty()).then_some(&input[..]);
            fft.process_partial_into_buffer(partial_input, &mut output, None)
        } else {
            fft.process_into_buffer(&input, &mut output, None)
        }
        .map_err(|e| ResampleError::Process(e.to_string()))?;
        self.pending.clear();
        let skip = self.delay_left.min(produced);
        self.delay_left -= skip;
        out.extend_from_slice(&self.scratch[skip..produced]);
        self.output_frames += (produced - skip) as u64;
        Ok(())
    }
}

/// Resamples a whole mono signal.
///
/// # Errors
/// As [`StreamingResampler`].
pub fn resample(mono: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, ResampleError> {
    let mut resampler = StreamingResampler::new(from_hz, to_hz)?;
    let mut out = Vec::with_capacity(
        usize::try_from(StreamingResampler::output_len_for(
            mono.len() as u64,
            from_hz,
            to_hz,
        ))
        .unwrap_or(0),
    );
    resampler.push(mono, &mut out)?;
    resampler.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq_hz: f32, rate_hz: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (2.0 * std::f32::consts::PI * freq_hz * i as f32 / rate_hz as f32).sin())
            .collect()
    }

    #[test]
    fn output_has_exact_length_for_common_rates() {
        for from_hz in [8_000, 11_025, 22_050, 44_100, 48_000, 96_000] {
            for len in [0, 1, 999, 48_000, 100_003] {
                let out = resample(&vec![0.1; len], from_hz, ANALYSIS_RATE_HZ).unwrap();
                let expected =
                    StreamingResampler::output_len_for(len as u64, from_hz, ANALYSIS_RATE_HZ);
                assert_eq!(out.len() as u64, expected, "{from_hz} Hz, {len} samples");
            }
        }
    }

    #[test]
    fn sine_survives_resampling_in_phase() {
        // A 440 Hz tone at 44.1 kHz must come out as the same tone at 16 kHz: same phase, same level.
        let input = sine(440.0, 44_100, 44_100);
        let out = resample(&input, 44_100, ANALYSIS_RATE_HZ).unwrap();
        let reference = sine(440.0, ANALYSIS_RATE_HZ, out.len());
        let interior = 1000..out.len() - 1000;
        let max_error = interior
            .map(|i| (out[i] - reference[i]).abs())
            .fold(0.0_f32, f32::max);
        assert!(max_error < 0.01, "max error {max_error}");
    }

    #[test]
    fn block_size_does_not_change_the_output() {
        let input = sine(300.0, 48_000, 30_011);
        let whole = resample(&input, 48_000, ANALYSIS_RATE_HZ).unwrap();
        let mut resampler = StreamingResampler::new(48_000, ANALYSIS_RATE_HZ).unwrap();
        let mut pieces = Vec::new();
        for block in input.chunks(777) {
            resampler.push(block, &mut pieces).unwrap();
        }
        resampler.finish(&mut pieces).unwrap();
        assert_eq!(whole, pieces);
    }

    #[test]
    fn zero_rate_is_refused() {
        assert!(matches!(
            StreamingResampler::new(0, ANALYSIS_RATE_HZ),
            Err(ResampleError::Setup { .. })
        ));
    }
}
