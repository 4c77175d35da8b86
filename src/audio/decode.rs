//! Decoding a whole file in one streaming pass: the 16 kHz mono analysis signal (and, if asked,
//! the original samples), with cancellation between packets.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::AudioError;
use super::reader::{AudioInfo, AudioReader};
use super::resample::{ANALYSIS_RATE_HZ, StreamingResampler};

/// Interleaved samples at the file's own rate and channel count (what playback plays).
#[derive(Debug, Clone, Default)]
pub struct InterleavedAudio {
    pub sample_rate_hz: u32,
    pub channels: usize,
    pub samples: Vec<f32>,
}

impl InterleavedAudio {
    #[must_use]
    pub fn frames(&self) -> usize {
        self.samples.len().checked_div(self.channels).unwrap_or(0)
    }
}

/// A decoded file: its header info, the 16 kHz mono analysis signal and, if asked, the original.
#[derive(Debug, Clone)]
pub struct DecodedFile {
    pub info: AudioInfo,
    /// Frames actually decoded (can differ from the header for lossy formats).
    pub decoded_frames: u64,
    /// Mono mix-down resampled to [`ANALYSIS_RATE_HZ`].
    pub analysis: Vec<f32>,
    pub original: Option<InterleavedAudio>,
}

impl DecodedFile {
    #[must_use]
    pub fn duration_secs(&self) -> f64 {
        self.decoded_frames as f64 / f64::from(self.info.sample_rate_hz)
    }
}

/// What [`decode_file`] keeps besides the analysis signal, and how to stop it early.
#[derive(Debug, Default, Clone, Copy)]
pub struct DecodeOptions<'a> {
    /// Keep the original interleaved signal too (for playback).
    pub keep_original: bool,
    /// Checked between packets; when set, decoding stops with [`AudioError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

/// Decodes a whole file in one pass into the 16 kHz mono analysis signal (and optionally the
/// original), holding only one packet of extra audio at a time.
///
/// # Errors
/// Any [`AudioError`]; the error names the file. A panic while decoding (a bug met on this file,
/// in the mixing or resampling as much as in the demuxer) is [`AudioError::Internal`], so no
/// caller's batch or export ends on one file.
pub fn decode_file(path: &Path, options: DecodeOptions<'_>) -> Result<DecodedFile, AudioError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_unguarded(path, options)
    }))
    .unwrap_or_else(|payload| {
        Err(AudioError::Internal {
            path: path.to_path_buf(),
            message: super::panic_message(payload.as_ref()),
        })
    })
}

fn decode_unguarded(path: &Path, options: DecodeOptions<'_>) -> Result<DecodedFile, AudioError> {
    let mut reader = AudioReader::open(path)?;
    let sample_rate_hz = reader.info().sample_rate_hz;
    let resample_error = |reason: String| AudioError::Resample {
        path: path.to_path_buf(),
        reason,
    };
    let mut resampler = StreamingResampler::new(sample_rate_hz, ANALYSIS_RATE_HZ)
        .map_err(|e| resample_error(e.to_string()))?;
    let mut analysis = Vec::new();
    let mut original = Vec::new();
    let mut mono = Vec::new();
    loop {
        if options.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(AudioError::Cancelled {
                path: path.to_path_buf(),
            });
        }
        let Some(block) = reader.next_block()? else {
            break;
        };
        mix_to_mono(block.samples, block.channels, &mut mono);
        if options.keep_original {
            original.extend_from_slice(block.samples);
        }
        resampler
            .push(&mono, &mut analysis)
            .map_err(|e| resample_error(e.to_string()))?;
    }
    resampler
        .finish(&mut analysis)
        .map_err(|e| resample_error(e.to_string()))?;
    let info = reader.info().clone();
    Ok(DecodedFile {
        original: options.keep_original.then_some(InterleavedAudio {
            sample_rate_hz,
            channels: info.channels,
            samples: original,
        }),
        decoded_frames: reader.decoded_frames(),
        info,
        analysis,
    })
}

/// Averages interleaved channels into `mono` (cleared first).
pub fn mix_to_mono(interleaved: &[f32], channels: usize, mono: &mut Vec<f32>) {
    mono.clear();
    if channels <= 1 {
        mono.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    mono.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_to_mono_averages_channels() {
        let mut mono = Vec::new();
        mix_to_mono(&[1.0, 0.0, 0.5, 0.5, -1.0, 1.0], 2, &mut mono);
        assert_eq!(mono, vec![0.5, 0.5, 0.0]);
        mix_to_mono(&[0.25, -0.25], 1, &mut mono);
        assert_eq!(mono, vec![0.25, -0.25]);
    }
}
