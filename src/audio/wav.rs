//! Writing 16 kHz mono analysis-rate audio as 32-bit float WAV (hound).

use std::path::Path;

/// Writes `samples` as a mono 32-bit float WAV at `sample_rate_hz`, creating parent folders.
///
/// # Errors
/// The folder or file cannot be written.
pub fn write_mono_f32(
    path: &Path,
    samples: &[f32],
    sample_rate_hz: u32,
) -> Result<(), hound::Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: sample_rate_hz,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec)?;
    for &sample in samples {
        writer.write_sample(sample)?;
    }
    writer.finalize()
}
