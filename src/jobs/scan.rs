//! Checking the files of a collection: headers only, or a full decode that finds truncated and
//! corrupt files and measures levels. Runs on several threads; one bad file never stops the rest.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use serde::Serialize;

use super::JobContext;
use crate::audio::{AudioError, AudioInfo, AudioReader};

/// How thoroughly to check each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckDepth {
    /// Read the headers only (fast: what a browser needs to list durations).
    Headers,
    /// Decode every packet: finds truncation, corruption and NaN, and measures levels.
    FullDecode,
}

/// What checking one file found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileCheck {
    pub info: AudioInfo,
    /// Duration of the audio actually decoded (full decode only).
    pub decoded_duration_secs: Option<f64>,
    /// Highest absolute sample, in dB relative to full scale (full decode only).
    pub peak_dbfs: Option<f32>,
    pub rms_dbfs: Option<f32>,
    /// Samples at or beyond full scale: a sign of clipping (full decode only).
    pub clipped_samples: Option<u64>,
}

impl FileCheck {
    /// The best duration known: decoded if there was a decode, else the header's.
    #[must_use]
    pub fn duration_secs(&self) -> Option<f64> {
        self.decoded_duration_secs
            .or_else(|| self.info.duration_secs())
    }
}

fn to_dbfs(amplitude: f64) -> f32 {
    (20.0 * amplitude.max(1e-10).log10()) as f32
}

/// Checks one file.
///
/// # Errors
/// The [`AudioError`] that makes the file unusable.
pub fn check_file(
    path: &Path,
    depth: CheckDepth,
    cancel: &AtomicBool,
) -> Result<FileCheck, AudioError> {
    let mut reader = AudioReader::open(path)?;
    if depth == CheckDepth::Headers {
        return Ok(FileCheck {
            info: reader.info().clone(),
            decoded_duration_secs: None,
            peak_dbfs: None,
            rms_dbfs: None,
            clipped_samples: None,
        });
    }
    let (mut peak, mut sum_squares, mut count, mut clipped) = (0.0_f32, 0.0_f64, 0_u64, 0_u64);
    while let Some(block) = reader.next_block()? {
        if cancel.load(Ordering::Relaxed) {
            return Err(AudioError::Cancelled {
                path: path.to_path_buf(),
            });
        }
        for &sample in block.samples {
            let magnitude = sample.abs();
            peak = peak.max(magnitude);
            sum_squares += f64::from(sample) * f64::from(sample);
            clipped += u64::from(magnitude >= 0.999_9);
        }
        count += block.samples.len() as u64;
    }
    let info = reader.info().clone();
    Ok(FileCheck {
        decoded_duration_secs: Some(
            reader.decoded_frames() as f64 / f64::from(info.sample_rate_hz),
        ),
        peak_dbfs: Some(to_dbfs(f64::from(peak))),
        rms_dbfs: Some(to_dbfs((sum_squares / count.max(1) as f64).sqrt())),
        clipped_samples: Some(clipped),
        info,
    })
}

/// Checks many files on `threads` threads, reporting one unit of progress per file. Results are
/// in input order; `None` marks files left unchecked because the job was cancelled.
#[must_use]
pub fn check_files(
    paths: &[PathBuf],
    depth: CheckDepth,
    threads: usize,
    context: &JobContext,
) -> Vec<Option<Result<FileCheck, AudioError>>> {
    context.set_total(paths.len() as u64);
    let check_all = || {
        paths
            .par_iter()
            .map(|path| {
                if context.is_cancelled() {
                    return None;
                }
                let result =
                    super::contain_panic(path, || check_file(path, depth, context.cancel_flag()))
                        .unwrap_or_else(|panicked| {
                            Err(AudioError::Internal {
                                path: panicked.path,
                                message: panicked.message,
                            })
                        });
                context.advance(1);
                Some(result)
            })
            .collect()
    };
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.clamp(1, paths.len().max(1)))
        .thread_name(|index| format!("check-files-{index}"))
        .build()
    {
        Ok(pool) => pool.install(check_all),
        Err(error) => {
            tracing::warn!("no pool of {threads} threads ({error}); checking on rayon's own");
            check_all()
        }
    }
}
