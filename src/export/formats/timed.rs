//! The per-recording formats annotation tools read: Praat TextGrid, ELAN EAF (written with
//! quick-xml) and Audacity label tracks, one file per recording, one tier per annotator.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::super::{ExportError, ExportRow, output_path, write_file};
use super::duration_s;
use crate::annotation::Label;
use crate::project::Project;

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

/// ELAN 3.0: one tier per annotator and a consensus tier, classes from a controlled vocabulary.
pub(super) fn eaf(project: &Project, row: &ExportRow, duration: f64) -> String {
    // Time slots come before the tiers in the file but are numbered while walking the tiers.
    let mut slots_ms = Vec::new();
    let tiers: Vec<(String, Vec<(usize, String)>)> = tiers(row)
        .into_iter()
        .map(|(name, label)| {
            let annotations = intervals(&label, duration)
                .into_iter()
                .filter(|(_, _, text)| !text.is_empty())
                .map(|(start, end, text)| {
                    slots_ms.extend([start, end].map(|t| (t * 1000.0).round() as u64));
                    (slots_ms.len() - 1, text)
                })
                .collect();
            (name, annotations)
        })
        .collect();
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 4);
    let written = write_eaf(&mut writer, project, row, &slots_ms, &tiers);
    let mut text = String::from_utf8(writer.into_inner()).unwrap_or_default();
    if let Err(error) = written {
        // Writing into memory does not fail; keep the reason should it ever.
        tracing::warn!("{}: EAF not complete: {error}", row.file);
    }
    text.push('\n');
    text
}

fn write_eaf(
    writer: &mut Writer<Vec<u8>>,
    project: &Project,
    row: &ExportRow,
    slots_ms: &[u64],
    tiers: &[(String, Vec<(usize, String)>)],
) -> std::io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let date = super::super::provenance::now_iso8601();
    let media_url = file_url(&row.path);
    writer
        .create_element("ANNOTATION_DOCUMENT")
        .with_attributes([
            ("AUTHOR", "MERIT Studio"),
            ("DATE", date.as_str()),
            ("FORMAT", "3.0"),
            ("VERSION", "3.0"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            (
                "xsi:noNamespaceSchemaLocation",
                "http://www.mpi.nl/tools/elan/EAFv3.0.xsd",
            ),
        ])
        .write_inner_content(|w| {
            w.create_element("HEADER")
                .with_attributes([("MEDIA_FILE", ""), ("TIME_UNITS", "milliseconds")])
                .write_inner_content(|w| {
                    w.create_element("MEDIA_DESCRIPTOR")
                        .with_attributes([
                            ("MEDIA_URL", media_url.as_str()),
                            ("RELATIVE_MEDIA_URL", row.file.as_str()),
                        ])
                        .write_empty()?;
                    for (name, value) in [
                        ("merit:project", &project.file.name),
                        ("merit:file", &row.file),
                    ] {
                        w.create_element("PROPERTY")
                            .with_attribute(("NAME", name))
                            .write_text_content(BytesText::new(value))?;
                    }
                    Ok(())
                })?;
            w.create_element("TIME_ORDER").write_inner_content(|w| {
                for (index, ms) in slots_ms.iter().enumerate() {
                    w.create_element("TIME_SLOT")
                        .with_attributes([
                            ("TIME_SLOT_ID", format!("ts{}", index + 1).as_str()),
                            ("TIME_VALUE", ms.to_string().as_str()),
                        ])
                        .write_empty()?;
                }
                Ok(())
            })?;
            let mut annotation = 0;
            for (name, annotations) in tiers {
                w.create_element("TIER")
                    .with_attributes([
                        ("LINGUISTIC_TYPE_REF", "emotion"),
                        ("TIER_ID", name.as_str()),
                    ])
                    .write_inner_content(|w| {
                        for (end_slot, text) in annotations {
                            annotation += 1;
                            w.create_element("ANNOTATION").write_inner_content(|w| {
                                w.create_element("ALIGNABLE_ANNOTATION")
                                    .with_attributes([
                                        ("ANNOTATION_ID", format!("a{annotation}").as_str()),
                                        ("TIME_SLOT_REF1", format!("ts{end_slot}").as_str()),
                                        ("TIME_SLOT_REF2", format!("ts{}", end_slot + 1).as_str()),
                                    ])
                                    .write_inner_content(|w| {
                                        w.create_element("ANNOTATION_VALUE")
                                            .write_text_content(BytesText::new(text))?;
                                        Ok(())
                                    })?;
                                Ok(())
                            })?;
                        }
                        Ok(())
                    })?;
            }
            w.create_element("LINGUISTIC_TYPE")
                .with_attributes([
                    ("CONTROLLED_VOCABULARY_REF", "emotions"),
                    ("GRAPHIC_REFERENCES", "false"),
                    ("LINGUISTIC_TYPE_ID", "emotion"),
                    ("TIME_ALIGNABLE", "true"),
                ])
                .write_empty()?;
            w.create_element("LANGUAGE")
                .with_attributes([("LANG_ID", "eng"), ("LANG_LABEL", "English (eng)")])
                .write_empty()?;
            w.create_element("CONTROLLED_VOCABULARY")
                .with_attribute(("CV_ID", "emotions"))
                .write_inner_content(|w| {
                    w.create_element("DESCRIPTION")
                        .with_attribute(("LANG_REF", "eng"))
                        .write_text_content(BytesText::new(
                            "Emotion classes of the project's label scheme",
                        ))?;
                    for class in &project.file.label_scheme.classes {
                        w.create_element("CV_ENTRY_ML")
                            .with_attribute(("CVE_ID", class.id.as_str()))
                            .write_inner_content(|w| {
                                w.create_element("CVE_VALUE")
                                    .with_attribute(("LANG_REF", "eng"))
                                    .write_text_content(BytesText::new(&class.id))?;
                                Ok(())
                            })?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}

/// A `file://` URL of `path` made absolute, percent-encoded as URLs need (spaces, `#`, non-ASCII).
fn file_url(path: &Path) -> String {
    std::path::absolute(path)
        .ok()
        .and_then(|absolute| url::Url::from_file_path(absolute).ok())
        .map_or_else(|| path.to_string_lossy().into_owned(), String::from)
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
