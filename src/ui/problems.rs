//! What can be wrong with a recording as the window sees it.

use std::sync::Arc;

use crate::audio::AudioError;
use crate::jobs::JobPanicked;
use crate::jobs::scan::FileCheck;

/// Header check of one recording: pending, done, or the reason it is broken.
pub type HeaderCheck = Option<Result<FileCheck, FileProblem>>;

/// Why a recording cannot be shown: its audio, or the background job that read it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FileProblem {
    #[error("file not found")]
    Missing,
    #[error(transparent)]
    Audio(Arc<AudioError>),
    #[error("cannot start a background job: {0}")]
    Spawn(Arc<std::io::Error>),
    #[error(transparent)]
    Panicked(#[from] JobPanicked),
}

impl From<AudioError> for FileProblem {
    fn from(error: AudioError) -> Self {
        Self::Audio(Arc::new(error))
    }
}

impl From<std::io::Error> for FileProblem {
    fn from(error: std::io::Error) -> Self {
        Self::Spawn(Arc::new(error))
    }
}
