//! The writers of each export format: the collection-wide ones here, the per-recording tier
//! formats in `timed` and `eaf`.

pub(super) mod eaf;
mod timed;
mod traces;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{
    ExportError, ExportRow, Format, msp_code, output_path, safe_cell, write_file, write_wav,
};
use crate::fsio::safe_relative;
use crate::project::Project;

use eaf::eaf;
use timed::{audacity, per_recording, textgrid};

fn csv_bytes(rows: Vec<Vec<String>>) -> Result<Vec<u8>, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(row)
            .map_err(|e| ExportError::Invalid(e.to_string()))?;
    }
    writer
        .into_inner()
        .map_err(|e| ExportError::Invalid(e.to_string()))
}

fn number(value: Option<&f64>) -> String {
    value.map_or_else(String::new, ToString::to_string)
}

/// Seconds of audio in a recording, from its header (segments' end when it cannot be read).
pub(super) fn duration_s(row: &ExportRow) -> f64 {
    let segments_end = row
        .by_annotator
        .values()
        .flat_map(|l| l.segments.iter().map(|s| s.end_s))
        .fold(0.0, f64::max);
    crate::audio::probe(&row.path)
        .ok()
        .and_then(|info| info.duration_secs())
        .unwrap_or(0.0)
        .max(segments_end)
        .max(0.001)
}

pub(super) fn write(
    project: &Project,
    rows: &[ExportRow],
    format: Format,
    out: &Path,
    options: &super::ExportOptions,
) -> Result<Vec<PathBuf>, ExportError> {
    match format {
        Format::Msp => msp(project, rows, out),
        Format::Audiofolder => audiofolder(rows, out, options.metadata_csv),
        Format::Jsonl => jsonl(rows, out, options.audio16k),
        Format::Textgrid => per_recording(rows, out, "TextGrid", textgrid),
        Format::Eaf => per_recording(rows, out, "eaf", |row, duration| {
            eaf(project, row, duration)
        }),
        Format::Audacity => per_recording(rows, out, "txt", audacity),
        Format::Labelstudio => labelstudio(project, rows, out, options),
        Format::TracesCsv => traces::traces_csv(project, rows, out),
        Format::Nova => traces::nova(project, rows, out),
        Format::TracesJsonl => traces::traces_jsonl(project, rows, out),
    }
}

fn labelstudio(
    project: &Project,
    rows: &[ExportRow],
    out: &Path,
    options: &super::ExportOptions,
) -> Result<Vec<PathBuf>, ExportError> {
    let tasks = super::labelstudio::tasks(rows, &options.predictions);
    let json =
        serde_json::to_vec_pretty(&tasks).map_err(|e| ExportError::Invalid(e.to_string()))?;
    let tasks_path = out.join("tasks.json");
    write_file(&tasks_path, &json)?;
    let config_path = out.join("labeling-config.xml");
    let config = super::labelstudio::labeling_config(&project.file.label_scheme);
    write_file(&config_path, config.as_bytes())?;
    Ok(vec![tasks_path, config_path])
}

fn msp(project: &Project, rows: &[ExportRow], out: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let mut consensus = vec![
        [
            "FileName",
            "EmoClass",
            "EmoAct",
            "EmoVal",
            "EmoDom",
            "SpkrID",
            "Gender",
            "Split_Set",
            "EmoAct_trace",
            "EmoVal_trace",
            "EmoDom_trace",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let mut detailed = vec![
        [
            "FileName",
            "Annotator",
            "EmoClass",
            "EmoAct",
            "EmoVal",
            "EmoDom",
            "Source",
            "Confidence",
            "Note",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for row in rows {
        consensus.push(vec![
            safe_cell(&row.file),
            row.label
                .as_deref()
                .map_or_else(String::new, |c| msp_code(project, c)),
            number(row.attributes.get("arousal")),
            number(row.attributes.get("valence")),
            number(row.attributes.get("dominance")),
            safe_cell(row.speaker.as_deref().unwrap_or("")),
            safe_cell(row.gender.as_deref().unwrap_or("")),
            safe_cell(row.split.as_deref().unwrap_or("")),
            number(traces::trace_mean(project, row, "arousal").as_ref()),
            number(traces::trace_mean(project, row, "valence").as_ref()),
            number(traces::trace_mean(project, row, "dominance").as_ref()),
        ]);
        for (annotator, label) in &row.by_annotator {
            detailed.push(vec![
                safe_cell(&row.file),
                safe_cell(annotator),
                label
                    .class
                    .as_deref()
                    .map_or_else(String::new, |c| msp_code(project, c)),
                number(label.attributes.get("arousal")),
                number(label.attributes.get("valence")),
                number(label.attributes.get("dominance")),
                super::rows::source_of([label]).to_owned(),
                number(label.confidence.as_ref()),
                safe_cell(&label.note),
            ]);
        }
    }
    let consensus_path = out.join("labels_consensus.csv");
    let detailed_path = out.join("labels_detailed.csv");
    write_file(&consensus_path, &csv_bytes(consensus)?)?;
    write_file(&detailed_path, &csv_bytes(detailed)?)?;
    Ok(vec![consensus_path, detailed_path])
}

/// Hard-links (or copies) each recording into `out`, mirroring its listed path, so the folder is
/// a complete dataset.
fn audiofolder(rows: &[ExportRow], out: &Path, as_csv: bool) -> Result<Vec<PathBuf>, ExportError> {
    let mut csv_rows = vec![
        [
            "file_name",
            "label",
            "arousal",
            "valence",
            "dominance",
            "soft_label",
            "speaker",
            "split",
            "source",
            "annotators",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let mut jsonl = String::new();
    for row in rows {
        let relative = safe_relative(&row.file);
        let target = out.join(&relative);
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder).map_err(|error| ExportError::Io {
                path: folder.to_path_buf(),
                error,
            })?;
        }
        if std::fs::hard_link(&row.path, &target).is_err() {
            std::fs::copy(&row.path, &target).map_err(|error| ExportError::Io {
                path: row.path.clone(),
                error,
            })?;
        }
        let file_name = relative.to_string_lossy().replace('\\', "/");
        let soft = serde_json::to_string(&row.soft_label).unwrap_or_default();
        csv_rows.push(vec![
            safe_cell(&file_name),
            safe_cell(row.label.as_deref().unwrap_or("")),
            number(row.attributes.get("arousal")),
            number(row.attributes.get("valence")),
            number(row.attributes.get("dominance")),
            soft,
            safe_cell(row.speaker.as_deref().unwrap_or("")),
            safe_cell(row.split.as_deref().unwrap_or("")),
            row.source.to_owned(),
            safe_cell(&row.annotators.join(";")),
        ]);
        let object = serde_json::json!({
            "file_name": file_name,
            "label": row.label,
            "arousal": row.attributes.get("arousal"),
            "valence": row.attributes.get("valence"),
            "dominance": row.attributes.get("dominance"),
            "soft_label": row.soft_label,
            "speaker": row.speaker,
            "split": row.split,
            "source": row.source,
            "annotators": row.annotators,
        });
        let _ = writeln!(jsonl, "{object}");
    }
    // One metadata file only: `datasets` refuses a folder with both.
    let path = if as_csv {
        let path = out.join("metadata.csv");
        write_file(&path, &csv_bytes(csv_rows)?)?;
        path
    } else {
        let path = out.join("metadata.jsonl");
        write_file(&path, jsonl.as_bytes())?;
        path
    };
    Ok(vec![path])
}

/// The 16 kHz mono WAV of `row` under `folder` (the model's input, for training code that reads
/// WAV only).
///
/// # Errors
/// [`ExportError`] when the recording cannot be decoded or the copy written.
pub fn decoded_copy(row: &ExportRow, folder: &Path) -> Result<PathBuf, ExportError> {
    let path = output_path(folder, &row.file, "wav");
    let decoded = crate::audio::decode_file(&row.path, crate::audio::DecodeOptions::default())
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    write_wav(&path, &decoded.analysis)?;
    Ok(std::path::absolute(&path).unwrap_or(path))
}

/// Every comment on the row's recording, with its author, oldest first.
pub(super) fn comments_of(row: &ExportRow) -> Vec<serde_json::Value> {
    let mut comments: Vec<_> = row
        .comments
        .iter()
        .flat_map(|(author, comments)| comments.iter().map(move |c| (author, c)))
        .collect();
    comments.sort_by_key(|(_, c)| c.time_ms);
    comments
        .into_iter()
        .map(|(author, c)| {
            serde_json::json!({
                "author": author,
                "id": c.id,
                "segment": c.segment,
                "reply_to": c.reply_to,
                "time_ms": c.time_ms,
                "text": c.text,
                "resolved": c.resolved,
            })
        })
        .collect()
}

fn jsonl(rows: &[ExportRow], out: &Path, audio16k: bool) -> Result<Vec<PathBuf>, ExportError> {
    let mut text = String::new();
    let mut written = Vec::new();
    let audio_folder = out.with_extension("audio16k");
    for row in rows {
        let audio = if audio16k {
            let copy = decoded_copy(row, &audio_folder)?;
            written.push(copy.clone());
            copy
        } else {
            row.path.clone()
        };
        let object = serde_json::json!({
            "path": audio,
            "original_path": row.path,
            "file": row.file,
            "duration_s": crate::audio::probe(&row.path).ok().and_then(|i| i.duration_secs()),
            "label": row.label,
            "soft_label": row.soft_label,
            "attributes": row.attributes,
            "split": row.split,
            "source": row.source,
            "annotators": row.annotators,
            "speaker": row.speaker,
            "comments": comments_of(row),
        });
        let _ = writeln!(text, "{object}");
    }
    write_file(out, text.as_bytes())?;
    written.push(out.to_path_buf());
    Ok(written)
}
