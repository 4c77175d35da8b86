//! The per-recording formats annotation tools read: Praat TextGrid and Audacity label tracks (ELAN
//! EAF in `eaf`), one file per recording, one tier per annotator.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::super::{ExportError, ExportRow, output_path, write_file};
use super::duration_s;
use crate::annotation::Label;

pub(super) fn per_recording(
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
pub(super) fn tiers(row: &ExportRow) -> Vec<(String, Label)> {
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
pub(super) fn textgrid(row: &ExportRow, duration: f64) -> String {
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

fn audacity_text(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

/// Audacity's label track: `start\tend\tlabel` lines. One annotator: their class over the whole
/// recording and their segments; consensus: the consensus class over the whole recording.
pub(super) fn audacity(row: &ExportRow, duration: f64) -> String {
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
    use std::collections::BTreeMap;

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
                    attributes: BTreeMap::new(),
                },
                Segment {
                    id: 2,
                    start_s: 1.5,
                    end_s: 9.0,
                    class: "angry".into(),
                    attributes: BTreeMap::new(),
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
