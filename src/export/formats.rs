//! The writers of each export format.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{
    ExportError, ExportRow, Format, msp_code, output_path, safe_cell, write_file, write_wav,
};
use crate::annotation::Label;
use crate::fsio::safe_relative;
use crate::project::Project;

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
fn duration_s(row: &ExportRow) -> f64 {
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
    }
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
fn decoded_copy(row: &ExportRow, folder: &Path) -> Result<PathBuf, ExportError> {
    let path = output_path(folder, &row.file, "wav");
    let decoded = crate::audio::decode_file(&row.path, crate::audio::DecodeOptions::default())
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    write_wav(&path, &decoded.analysis)?;
    Ok(std::path::absolute(&path).unwrap_or(path))
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
        });
        let _ = writeln!(text, "{object}");
    }
    write_file(out, text.as_bytes())?;
    written.push(out.to_path_buf());
    Ok(written)
}

fn per_recording(
    rows: &[ExportRow],
    out: &Path,
    extension: &str,
    render: impl Fn(&ExportRow, f64) -> String,
) -> Result<Vec<PathBuf>, ExportError> {
    let mut written = Vec::new();
    for row in rows {
        let path = output_path(out, &row.file, extension);
        write_file(&path, render(row, duration_s(row)).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// (start, end, text) intervals covering 0..duration for one label: its segments, the gaps
/// between them empty; without segments, one interval with the recording's class.
pub(super) fn intervals(label: &Label, duration: f64) -> Vec<(f64, f64, String)> {
    if label.segments.is_empty() {
        return vec![(0.0, duration, label.class.clone().unwrap_or_default())];
    }
    let mut out = Vec::new();
    let mut at = 0.0;
    for segment in &label.segments {
        let start = segment.start_s.clamp(at, duration);
        let end = segment.end_s.clamp(start, duration);
        if start > at {
            out.push((at, start, String::new()));
        }
        if end > start {
            out.push((start, end, segment.class.clone()));
        }
        at = end;
    }
    if at < duration {
        out.push((at, duration, String::new()));
    }
    out
}

/// Tiers of the per-recording formats: each annotator's class over the whole recording (tier
/// named after them), their segments (tier "NAME segments", when they have some), and the
/// consensus class (tier "consensus").
fn tiers(row: &ExportRow) -> Vec<(String, Label)> {
    let mut tiers = Vec::new();
    for (who, label) in &row.by_annotator {
        tiers.push((
            who.clone(),
            Label {
                class: label.class.clone(),
                ..Label::default()
            },
        ));
        if !label.segments.is_empty() {
            tiers.push((
                format!("{who} segments"),
                Label {
                    segments: label.segments.clone(),
                    ..Label::default()
                },
            ));
        }
    }
    tiers.push((
        "consensus".into(),
        Label {
            class: row.label.clone(),
            ..Label::default()
        },
    ));
    tiers
}

fn praat_text(text: &str) -> String {
    text.replace('"', "\"\"")
}

/// Praat's long text format, one interval tier per annotator and a consensus tier.
fn textgrid(row: &ExportRow, duration: f64) -> String {
    let tiers = tiers(row);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\nxmin = 0 \nxmax = {duration} \ntiers? <exists> \nsize = {} \nitem []: ",
        tiers.len()
    );
    for (index, (name, label)) in tiers.iter().enumerate() {
        let intervals = intervals(label, duration);
        let _ = writeln!(
            out,
            "    item [{}]:\n        class = \"IntervalTier\" \n        name = \"{}\" \n        xmin = 0 \n        xmax = {duration} \n        intervals: size = {} ",
            index + 1,
            praat_text(name),
            intervals.len()
        );
        for (i, (start, end, text)) in intervals.iter().enumerate() {
            let _ = writeln!(
                out,
                "        intervals [{}]:\n            xmin = {start} \n            xmax = {end} \n            text = \"{}\" ",
                i + 1,
                praat_text(text)
            );
        }
    }
    out
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// ELAN 3.0: one tier per annotator and a consensus tier, classes from a controlled vocabulary.
fn eaf(project: &Project, row: &ExportRow, duration: f64) -> String {
    let mut slots = String::new();
    let mut tiers_xml = String::new();
    let mut slot = 0;
    let mut annotation = 0;
    for (name, label) in tiers(row) {
        let _ = writeln!(
            tiers_xml,
            "    <TIER LINGUISTIC_TYPE_REF=\"emotion\" TIER_ID=\"{}\">",
            xml(&name)
        );
        for (start, end, text) in intervals(&label, duration) {
            if text.is_empty() {
                continue;
            }
            for t in [start, end] {
                slot += 1;
                let _ = writeln!(
                    slots,
                    "        <TIME_SLOT TIME_SLOT_ID=\"ts{slot}\" TIME_VALUE=\"{}\"/>",
                    (t * 1000.0).round() as u64
                );
            }
            annotation += 1;
            let _ = writeln!(
                tiers_xml,
                "        <ANNOTATION>\n            <ALIGNABLE_ANNOTATION ANNOTATION_ID=\"a{annotation}\" TIME_SLOT_REF1=\"ts{}\" TIME_SLOT_REF2=\"ts{slot}\">\n                <ANNOTATION_VALUE>{}</ANNOTATION_VALUE>\n            </ALIGNABLE_ANNOTATION>\n        </ANNOTATION>",
                slot - 1,
                xml(&text)
            );
        }
        tiers_xml.push_str("    </TIER>\n");
    }
    let mut vocabulary = String::new();
    for class in &project.file.label_scheme.classes {
        let _ = writeln!(
            vocabulary,
            "        <CV_ENTRY_ML CVE_ID=\"{}\"><CVE_VALUE LANG_REF=\"eng\">{}</CVE_VALUE></CV_ENTRY_ML>",
            xml(&class.id),
            xml(&class.id)
        );
    }
    let media = row.path.to_string_lossy();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="MERIT Studio" DATE="{}" FORMAT="3.0" VERSION="3.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd">
    <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">
        <MEDIA_DESCRIPTOR MEDIA_URL="file://{}" RELATIVE_MEDIA_URL="{}"/>
        <PROPERTY NAME="merit:project">{}</PROPERTY>
        <PROPERTY NAME="merit:file">{}</PROPERTY>
    </HEADER>
    <TIME_ORDER>
{slots}    </TIME_ORDER>
{tiers_xml}    <LINGUISTIC_TYPE CONTROLLED_VOCABULARY_REF="emotions" GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="emotion" TIME_ALIGNABLE="true"/>
    <LANGUAGE LANG_ID="eng" LANG_LABEL="English (eng)"/>
    <CONTROLLED_VOCABULARY CV_ID="emotions">
        <DESCRIPTION LANG_REF="eng">Emotion classes of the project's label scheme</DESCRIPTION>
{vocabulary}    </CONTROLLED_VOCABULARY>
</ANNOTATION_DOCUMENT>
"#,
        super::provenance::now_iso8601(),
        xml(&media),
        xml(&row.file),
        xml(&project.file.name),
        xml(&row.file)
    )
}

fn audacity_text(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

/// Audacity's label track: `start\tend\tlabel` lines. One annotator: their class over the whole
/// recording and their segments; consensus: the consensus class over the whole recording.
fn audacity(row: &ExportRow, duration: f64) -> String {
    let mut out = String::new();
    let single = (row.by_annotator.len() == 1)
        .then(|| row.by_annotator.values().next())
        .flatten();
    if let Some(class) = &row.label {
        let _ = writeln!(out, "{:.6}\t{duration:.6}\t{}", 0.0, audacity_text(class));
    }
    if let Some(label) = single {
        for segment in &label.segments {
            let _ = writeln!(
                out,
                "{:.6}\t{:.6}\t{}",
                segment.start_s,
                segment.end_s,
                audacity_text(&segment.class)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::Segment;

    #[test]
    fn intervals_cover_the_recording() {
        let label = Label {
            segments: vec![
                Segment {
                    id: 1,
                    start_s: 0.5,
                    end_s: 1.0,
                    class: "sad".into(),
                },
                Segment {
                    id: 2,
                    start_s: 1.5,
                    end_s: 9.0,
                    class: "angry".into(),
                },
            ],
            ..Label::default()
        };
        let intervals = intervals(&label, 2.0);
        assert_eq!(intervals.len(), 4);
        assert_eq!(intervals[0], (0.0, 0.5, String::new()));
        assert_eq!(intervals[3], (1.5, 2.0, "angry".into()));
    }
}
