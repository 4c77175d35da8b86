//! Label exports for retraining and for other annotation tools: MSP-Podcast CSV, Hugging Face
//! AudioFolder, a JSONL training manifest, Praat TextGrid, ELAN EAF and Audacity label tracks —
//! with provenance, speaker-disjoint seeded splits, CSV cells safe from formula injection, and
//! files that are written whole or not at all and never outside the chosen folder.

mod cells;
mod formats;
pub mod import;
pub mod labelstudio;
mod provenance;
mod rows;

use std::path::{Path, PathBuf};

use crate::annotation::consensus::NO_AGREEMENT;
use crate::project::Project;

pub use cells::{safe_cell, unsafe_cell};
pub use formats::decoded_copy;
pub use provenance::{Provenance, provenance};
pub use rows::{ExportRow, SplitPlan, assign_splits, rows};

/// The formats `merit-studio export --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `labels_consensus.csv` + `labels_detailed.csv` (folder).
    Msp,
    /// `metadata.jsonl` (or `metadata.csv`) + the audio, for `datasets.load_dataset("audiofolder")`.
    Audiofolder,
    /// One JSON object per recording: our fine-tuning manifest (file).
    Jsonl,
    /// One Praat TextGrid per recording (folder).
    Textgrid,
    /// One ELAN `.eaf` per recording (folder).
    Eaf,
    /// One Audacity label track per recording (folder).
    Audacity,
    /// Label Studio: `tasks.json` and `labeling-config.xml` (folder).
    Labelstudio,
    /// Time-continuous traces: one CSV per recording × dimension (folder).
    TracesCsv,
    /// Time-continuous traces as NOVA continuous annotations (folder).
    Nova,
    /// Time-continuous traces: one JSON object per recording (file).
    TracesJsonl,
}

/// Which labels an export carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    /// The annotators' consensus (plurality; `no_agreement` on ties).
    #[default]
    Consensus,
    /// One annotator's labels.
    Annotator(String),
}

#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    pub format: Option<Format>,
    pub selection: Selection,
    /// Also export recordings nobody labelled yet (label empty, source "none").
    pub include_unlabelled: bool,
    /// Leave out classes annotators took from the model (accepted predictions), keeping only the
    /// classes people chose.
    pub human_only: bool,
    /// Assign splits by speaker; otherwise the collection's own split column is kept.
    pub splits: Option<SplitPlan>,
    /// JSONL: decode every recording to a 16 kHz mono WAV beside the manifest and point `path`
    /// at it (what `models/training/merit/finetune.py` reads).
    pub audio16k: bool,
    /// AudioFolder: `metadata.csv` instead of `metadata.jsonl` (`datasets` refuses a folder that
    /// holds both).
    pub metadata_csv: bool,
    /// Label Studio: the model's predictions by recording (as listed), for the tasks' `predictions`.
    pub predictions: std::collections::BTreeMap<String, labelstudio::ModelPrediction>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} already exists and is not empty; choose a new or empty folder", .0.display())]
    NotEmpty(PathBuf),
    #[error("{0}")]
    Invalid(String),
}

/// The MSP-Podcast letter of a class id (X for no agreement, O when the scheme has no letter).
#[must_use]
pub fn msp_code(project: &Project, class: &str) -> String {
    if class == NO_AGREEMENT {
        return "X".into();
    }
    project
        .file
        .label_scheme
        .class_by_id(class)
        .and_then(|c| c.msp_code.clone())
        .unwrap_or_else(|| "O".into())
}

/// Exports `rows` to `out` (a file or a folder, depending on the format).
///
/// # Errors
/// [`ExportError`] naming the file; nothing half-written is left: each file is written atomically,
/// and when a later file fails (a full disk, say) the files this export already wrote go too.
pub fn export(
    project: &Project,
    rows: &[ExportRow],
    options: &ExportOptions,
    out: &Path,
    provenance: &Provenance,
) -> Result<Vec<PathBuf>, ExportError> {
    let format = options.format.unwrap_or(Format::Jsonl);
    let folder_format = !matches!(format, Format::Jsonl | Format::TracesJsonl);
    if folder_format {
        let not_empty = std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some());
        if not_empty {
            return Err(ExportError::NotEmpty(out.to_path_buf()));
        }
        std::fs::create_dir_all(out).map_err(|error| ExportError::Io {
            path: out.to_path_buf(),
            error,
        })?;
    }
    let provenance_path = if folder_format {
        out.join("provenance.json")
    } else {
        out.with_extension("provenance.json")
    };
    let result = (|| {
        let mut written = formats::write(project, rows, format, out, options)?;
        let json = serde_json::to_vec_pretty(provenance)
            .map_err(|e| ExportError::Invalid(e.to_string()))?;
        write_file(&provenance_path, &json)?;
        written.push(provenance_path.clone());
        Ok(written)
    })();
    if result.is_err() {
        remove_partial_export(out, folder_format, &provenance_path);
    }
    result
}

/// After a failed export: the folder's contents (it was new or empty), or the file, its
/// provenance and its decoded-audio folder.
fn remove_partial_export(out: &Path, folder_format: bool, provenance_path: &Path) {
    if folder_format {
        for entry in std::fs::read_dir(out).into_iter().flatten().flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    } else {
        let _ = std::fs::remove_file(out);
        let _ = std::fs::remove_file(provenance_path);
        let _ = std::fs::remove_dir_all(out.with_extension("audio16k"));
    }
}

/// Where the output for recording `listed` goes under `folder`: its listed path without `..` or
/// roots, with `.extension` added to the file name (so `a.flac` and `a.wav` never collide).
#[must_use]
pub fn output_path(folder: &Path, listed: &str, extension: &str) -> PathBuf {
    let mut path = folder.join(crate::fsio::safe_relative(listed));
    let name = format!(
        "{}.{extension}",
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    );
    path.set_file_name(name);
    path
}

/// Writes a 16 kHz mono float WAV whole or not at all (beside, then renamed into place).
///
/// # Errors
/// [`ExportError`] naming the file.
pub fn write_wav(path: &Path, samples: &[f32]) -> Result<(), ExportError> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|error| ExportError::Io {
            path: folder.to_path_buf(),
            error,
        })?;
    }
    let temp = path.with_extension("wav.partial");
    crate::audio::wav::write_mono_f32(&temp, samples, crate::audio::ANALYSIS_RATE_HZ)
        .map_err(|e| ExportError::Invalid(format!("{}: {e}", path.display())))?;
    std::fs::rename(&temp, path).map_err(|error| ExportError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// Writes one output file atomically, creating its folder.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let io = |error| ExportError::Io {
        path: path.to_path_buf(),
        error,
    };
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(io)?;
    }
    crate::fsio::write_atomically(path, bytes).map_err(io)
}
