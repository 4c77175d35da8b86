//! The one error type of the audio layer: every variant names the file and the reason.

use std::path::PathBuf;

/// Why a file could not be opened, probed or decoded.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{}: cannot read the file: {error}", path.display())]
    Io {
        path: PathBuf,
        // The reason is part of the message, so it is not also a `source` (no doubled text).
        error: std::io::Error,
    },
    #[error("{}: the file is empty (0 bytes)", path.display())]
    EmptyFile { path: PathBuf },
    #[error("{}: not a recognised audio file ({reason})", path.display())]
    UnrecognisedFormat { path: PathBuf, reason: String },
    #[error("{}: unsupported audio: {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
    #[error("{}: the file holds no audio track", path.display())]
    NoAudioTrack { path: PathBuf },
    #[error("{}: invalid header: {reason}", path.display())]
    InvalidHeader { path: PathBuf, reason: String },
    #[error(
        "{}: truncated: the header promises {expected_frames} frames but only {decoded_frames} decode (the data is cut short or damaged)",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        expected_frames: u64,
        decoded_frames: u64,
    },
    #[error("{}: corrupt audio data at {at_secs:.3} s: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        at_secs: f64,
        reason: String,
    },
    #[error(
        "{}: {count} samples are NaN or infinite (first at {first_at_secs:.3} s)",
        path.display()
    )]
    NonFiniteSamples {
        path: PathBuf,
        count: u64,
        first_at_secs: f64,
    },
    #[error("{}: the file decodes to no audio at all", path.display())]
    NoAudio { path: PathBuf },
    #[error("{}: resampling failed: {reason}", path.display())]
    Resample { path: PathBuf, reason: String },
    #[error("{}: decoding was cancelled", path.display())]
    Cancelled { path: PathBuf },
    /// A bug met while reading this file (a caught panic), so one file never ends a batch.
    #[error("{}: internal error: {message} (a bug; please report it with this file)", path.display())]
    Internal { path: PathBuf, message: String },
}

impl AudioError {
    /// The file the error is about.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::Io { path, .. }
            | Self::EmptyFile { path }
            | Self::UnrecognisedFormat { path, .. }
            | Self::Unsupported { path, .. }
            | Self::NoAudioTrack { path }
            | Self::InvalidHeader { path, .. }
            | Self::Truncated { path, .. }
            | Self::Corrupt { path, .. }
            | Self::NonFiniteSamples { path, .. }
            | Self::NoAudio { path }
            | Self::Resample { path, .. }
            | Self::Cancelled { path }
            | Self::Internal { path, .. } => path,
        }
    }

    /// A short machine-friendly name of the kind of problem (used in scan reports and JSON).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::EmptyFile { .. } => "empty",
            Self::UnrecognisedFormat { .. } => "unrecognised-format",
            Self::Unsupported { .. } => "unsupported",
            Self::NoAudioTrack { .. } => "no-audio-track",
            Self::InvalidHeader { .. } => "invalid-header",
            Self::Truncated { .. } => "truncated",
            Self::Corrupt { .. } => "corrupt",
            Self::NonFiniteSamples { .. } => "non-finite-samples",
            Self::NoAudio { .. } => "no-audio",
            Self::Resample { .. } => "resample",
            Self::Cancelled { .. } => "cancelled",
            Self::Internal { .. } => "internal-error",
        }
    }
}

/// The text of a caught panic's payload (batch jobs and the decoder turn panics into errors).
#[must_use]
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic without a message".into())
}
