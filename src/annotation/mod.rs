//! Annotation: labels per recording and annotator, kept in crash-proof per-annotator journals,
//! with undo/redo, consensus, agreement and a review queue. No UI here; the window and the
//! `label` command both drive [`AnnotationStore`].

pub mod agreement;
pub mod annotator;
pub mod consensus;
pub mod journal;
pub mod label;
mod lock;
pub mod queue;
pub mod request;
pub mod segments;
mod store;
pub mod trace;

use std::path::PathBuf;

pub use label::{ClassSource, Comment, CommentRef, Flag, Label, Op, Segment};
pub use store::{AnnotationStore, Applied};

#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "annotator {annotator:?} is already being written by another studio ({holder}, lock {}); close it first, or annotate under another name (a lock from another machine stays until that studio closes or the lock file is removed)",
        lock.display()
    )]
    Locked {
        annotator: String,
        lock: PathBuf,
        /// Who holds it, e.g. `process 1234 on lab-pc`.
        holder: String,
    },
    #[error(
        "{0:?} is not a usable annotator name (letters and digits of any script, spaces, apostrophes, '-', '_' and '.'; at most 64 characters; no leading or trailing dot)"
    )]
    BadAnnotator(String),
    #[error(
        "{name:?} differs only in case from the annotator {existing:?} of this project: on a case-insensitive file system they would share a journal; use {existing:?} or another name"
    )]
    CaseTwin { name: String, existing: String },
    #[error("no annotator is writing: choose one first")]
    NoAnnotator,
    #[error("{0}")]
    Invalid(String),
}
