//! Label exports for retraining and for other annotation tools: MSP-Podcast CSV, Hugging Face
//! AudioFolder, a JSONL training manifest, Praat TextGrid, ELAN EAF and Audacity label tracks —
//! with provenance, speaker-disjoint seeded splits, CSV cells safe from formula injection, and
//! files that are written whole or not at all and never outside the chosen folder.

mod formats;
pub mod import;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::annotation::consensus::{Consensus, NO_AGREEMENT, consensus};
use crate::annotation::{AnnotationStore, ClassSource, Label};
use crate::project::{Collection, Project};

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

/// How recordings are split into train/dev/test: by speaker (no speaker in two splits), seeded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitPlan {
    pub dev: f64,
    pub test: f64,
    pub seed: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    pub format: Option<Format>,
    pub selection: Selection,
    /// Also export recordings nobody labelled yet (label empty, source "none").
    pub include_unlabelled: bool,
    /// Assign splits by speaker; otherwise the collection's own split column is kept.
    pub splits: Option<SplitPlan>,
    /// JSONL: decode every recording to a 16 kHz mono WAV beside the manifest and point `path`
    /// at it (what `models/training/merit/finetune.py` reads).
    pub audio16k: bool,
    /// AudioFolder: `metadata.csv` instead of `metadata.jsonl` (`datasets` refuses a folder that
    /// holds both).
    pub metadata_csv: bool,
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

/// Who made an export, from what, and when: written beside every export.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub project: String,
    pub project_root: PathBuf,
    pub format: String,
    pub selection: String,
    pub annotators: Vec<String>,
    pub model_hash: Option<String>,
    /// UTC, ISO 8601.
    pub exported_at: String,
    pub studio_version: String,
    pub recordings: usize,
}

/// What an export says about one recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportRow {
    /// As the project lists it.
    pub file: String,
    pub path: PathBuf,
    pub speaker: Option<String>,
    pub gender: Option<String>,
    pub split: Option<String>,
    pub label: Option<String>,
    /// Votes as fractions (one annotator: 1.0 for their class).
    pub soft_label: BTreeMap<String, f64>,
    pub attributes: BTreeMap<String, f64>,
    /// human, accepted_model, or none.
    pub source: &'static str,
    pub annotators: Vec<String>,
    /// Each annotator's label (for the detailed and per-tier formats).
    #[serde(skip)]
    pub by_annotator: BTreeMap<String, Label>,
}

fn source_of<'a>(labels: impl IntoIterator<Item = &'a Label>) -> &'static str {
    let mut any = false;
    let mut human = false;
    for label in labels {
        if label.class.is_some() {
            any = true;
            human |= label.source == ClassSource::Human;
        }
    }
    match (any, human) {
        (false, _) => "none",
        (true, true) => "human",
        (true, false) => "accepted_model",
    }
}

/// The rows an export writes, in collection order (labelled recordings only, unless asked).
#[must_use]
pub fn rows(
    collection: &Collection,
    store: &AnnotationStore,
    options: &ExportOptions,
) -> Vec<ExportRow> {
    let mut rows: Vec<ExportRow> = collection
        .recordings
        .iter()
        .filter_map(|recording| {
            let all = store
                .labels_of(&recording.listed_path)
                .cloned()
                .unwrap_or_default();
            let by_annotator: BTreeMap<String, Label> = match &options.selection {
                Selection::Consensus => all,
                Selection::Annotator(name) => {
                    all.into_iter().filter(|(who, _)| who == name).collect()
                }
            };
            let by_annotator: BTreeMap<String, Label> = by_annotator
                .into_iter()
                .filter(|(_, l)| !l.is_empty())
                .collect();
            if by_annotator.is_empty() && !options.include_unlabelled {
                return None;
            }
            let summary = consensus(by_annotator.values());
            let soft_label = summary.distribution();
            let Consensus {
                class, attributes, ..
            } = summary;
            Some(ExportRow {
                file: recording.listed_path.clone(),
                path: recording.path.clone(),
                speaker: recording.speaker.clone(),
                gender: recording.gender.clone(),
                split: recording.split.clone(),
                label: class,
                soft_label,
                attributes,
                source: source_of(by_annotator.values()),
                annotators: by_annotator.keys().cloned().collect(),
                by_annotator,
            })
        })
        .collect();
    if let Some(plan) = options.splits {
        assign_splits(&mut rows, plan);
    }
    rows
}

/// Speaker-disjoint train/dev/test: speakers (recordings without one count as their own speaker)
/// shuffled with `seed`, then dealt out until each split has its share of recordings.
pub fn assign_splits(rows: &mut [ExportRow], plan: SplitPlan) {
    let speaker_of = |row: &ExportRow| {
        row.speaker
            .clone()
            .unwrap_or_else(|| format!("\u{0}{}", row.file))
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for row in rows.iter() {
        *counts.entry(speaker_of(row)).or_default() += 1;
    }
    let mut speakers: Vec<(String, usize)> = counts.into_iter().collect();
    fastrand::Rng::with_seed(plan.seed).shuffle(&mut speakers);
    let total = rows.len() as f64;
    let mut assigned: BTreeMap<String, &'static str> = BTreeMap::new();
    let (mut test, mut dev) = (0.0, 0.0);
    for (speaker, n) in speakers {
        let split = if test < plan.test * total {
            test += n as f64;
            "test"
        } else if dev < plan.dev * total {
            dev += n as f64;
            "dev"
        } else {
            "train"
        };
        assigned.insert(speaker, split);
    }
    for row in rows.iter_mut() {
        row.split = assigned.get(&speaker_of(row)).map(|s| (*s).to_owned());
    }
}

/// Neutralises spreadsheet formula injection: a text cell starting with `=`, `+`, `-`, `@`, tab or
/// carriage return gets a leading apostrophe (which spreadsheets show as text, not a formula).
#[must_use]
pub fn safe_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Undoes [`safe_cell`] when reading our own CSVs back.
#[must_use]
pub fn unsafe_cell(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => text,
    }
}

/// `seconds` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
#[must_use]
pub fn iso8601(seconds: u64) -> String {
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let rest = seconds % 86_400;
    // Days to civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
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
/// [`ExportError`] naming the file; nothing half-written is left (files are written atomically).
pub fn export(
    project: &Project,
    rows: &[ExportRow],
    options: &ExportOptions,
    out: &Path,
    provenance: &Provenance,
) -> Result<Vec<PathBuf>, ExportError> {
    let format = options.format.unwrap_or(Format::Jsonl);
    let folder_format = !matches!(format, Format::Jsonl);
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
    let mut written = formats::write(project, rows, format, out, options)?;
    let provenance_path = if folder_format {
        out.join("provenance.json")
    } else {
        out.with_extension("provenance.json")
    };
    let json =
        serde_json::to_vec_pretty(provenance).map_err(|e| ExportError::Invalid(e.to_string()))?;
    write_file(&provenance_path, &json)?;
    written.push(provenance_path);
    Ok(written)
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

/// The provenance record for an export of `rows`.
#[must_use]
pub fn provenance(
    project: &Project,
    rows: &[ExportRow],
    format: Format,
    selection: &Selection,
    model_hash: Option<String>,
) -> Provenance {
    let annotators: BTreeSet<String> = rows
        .iter()
        .flat_map(|r| r.annotators.iter().cloned())
        .collect();
    Provenance {
        project: project.file.name.clone(),
        project_root: project.root.clone(),
        format: format!("{format:?}").to_lowercase(),
        selection: match selection {
            Selection::Consensus => "consensus".into(),
            Selection::Annotator(name) => format!("annotator {name}"),
        },
        annotators: annotators.into_iter().collect(),
        model_hash,
        exported_at: iso8601(crate::annotation::journal::now_ms() / 1000),
        studio_version: env!("CARGO_PKG_VERSION").into(),
        recordings: rows.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(file: &str, speaker: Option<&str>) -> ExportRow {
        ExportRow {
            file: file.into(),
            path: file.into(),
            speaker: speaker.map(Into::into),
            gender: None,
            split: None,
            label: None,
            soft_label: BTreeMap::new(),
            attributes: BTreeMap::new(),
            source: "none",
            annotators: Vec::new(),
            by_annotator: BTreeMap::new(),
        }
    }

    #[test]
    fn splits_keep_speakers_apart_and_are_reproducible() {
        let mut rows: Vec<ExportRow> = (0..200)
            .map(|i| row(&format!("{i}.wav"), Some(&format!("spk{}", i % 20))))
            .collect();
        let plan = SplitPlan {
            dev: 0.1,
            test: 0.2,
            seed: 3,
        };
        assign_splits(&mut rows, plan);
        let mut by_speaker: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &rows {
            by_speaker
                .entry(r.speaker.clone().unwrap())
                .or_default()
                .insert(r.split.clone().unwrap());
        }
        assert!(by_speaker.values().all(|splits| splits.len() == 1));
        let count = |name: &str| {
            rows.iter()
                .filter(|r| r.split.as_deref() == Some(name))
                .count()
        };
        assert_eq!((count("test"), count("dev"), count("train")), (40, 20, 140));
        let mut again: Vec<ExportRow> = rows
            .iter()
            .map(|r| row(&r.file, r.speaker.as_deref()))
            .collect();
        assign_splits(&mut again, plan);
        assert!(rows.iter().zip(&again).all(|(a, b)| a.split == b.split));
    }

    #[test]
    fn dates_read_as_iso_8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_709_674), "2026-11-26T16:14:34Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn formula_cells_are_neutralised_and_restored() {
        for text in ["=SUM(A1)", "+1", "-cmd", "@x", "\tx"] {
            let safe = safe_cell(text);
            assert!(safe.starts_with('\''));
            assert_eq!(unsafe_cell(&safe), text);
        }
        assert_eq!(safe_cell("angry, very"), "angry, very");
        assert_eq!(unsafe_cell("'quoted"), "'quoted");
    }
}
