//! Imports of the per-recording tier formats: Audacity label tracks, Praat TextGrids and ELAN
//! EAF files, each describing one recording.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Imported, MAX_TIER_FILE_BYTES, xml_attribute};
use crate::annotation::{ClassSource, Op, Segment};
use crate::export::formats::eaf::COMMENT_TYPE;
use crate::fsio::read_text_capped;

/// An Audacity label track for recording `file`: a label spanning (nearly) the whole recording
/// sets its class, the others become segments.
///
/// # Errors
/// The file cannot be read.
pub fn audacity(path: &Path, file: &str, first_segment_id: u64) -> std::io::Result<Imported> {
    let mut imported = Imported::default();
    let mut rows = Vec::new();
    for (index, line) in read_text_capped(path, MAX_TIER_FILE_BYTES)?
        .lines()
        .enumerate()
    {
        let number = index as u64 + 1;
        // Audacity writes frequency-range lines starting with '\' under spectral labels.
        if line.trim().is_empty() || line.starts_with('\\') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, '\t').collect();
        let parsed = match parts.as_slice() {
            [start, end, text] => start
                .trim()
                .parse::<f64>()
                .ok()
                .zip(end.trim().parse::<f64>().ok())
                .map(|(s, e)| (s, e, text.trim().to_owned())),
            _ => None,
        };
        match parsed {
            Some(row) => rows.push(row),
            None => imported.problem(path, number, "expected start<TAB>end<TAB>label"),
        }
    }
    let whole = rows
        .iter()
        .position(|(start, _, _)| *start <= 1e-3)
        .filter(|&i| {
            rows.len() == 1 || rows[i].1 >= rows.iter().map(|r| r.1).fold(0.0, f64::max) - 1e-3
        });
    for (index, (start, end, text)) in rows.into_iter().enumerate() {
        if Some(index) == whole {
            imported.edits.push((
                file.to_owned(),
                Op::SetClass {
                    class: Some(text),
                    source: ClassSource::Human,
                    model: None,
                },
            ));
        } else {
            imported.edits.push((
                file.to_owned(),
                Op::PutSegment {
                    segment: Segment {
                        id: first_segment_id + index as u64,
                        start_s: start,
                        end_s: end,
                        class: text,
                        attributes: BTreeMap::new(),
                    },
                },
            ));
        }
    }
    Ok(imported)
}

/// A Praat TextGrid (long text format) for recording `file`: the tier named `tier` — an interval
/// spanning the whole recording sets the class, the other non-empty intervals become segments.
///
/// # Errors
/// The file cannot be read.
pub fn textgrid(
    path: &Path,
    file: &str,
    tier: &str,
    first_segment_id: u64,
) -> std::io::Result<Imported> {
    let mut imported = Imported::default();
    let text = read_text_capped(path, MAX_TIER_FILE_BYTES)?;
    let quoted = |line: &str| -> Option<String> {
        let value = line.split_once('=')?.1.trim();
        let inner = value.strip_prefix('"')?.strip_suffix('"')?;
        Some(inner.replace("\"\"", "\""))
    };
    let number = |line: &str| -> Option<f64> { line.split_once('=')?.1.trim().parse().ok() };
    let mut in_tier = false;
    let mut tier_end = 0.0;
    let mut intervals = Vec::new();
    let (mut start, mut end) = (None, None);
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("name =") {
            in_tier = quoted(trimmed).as_deref() == Some(tier);
        } else if in_tier && trimmed.starts_with("xmin =") {
            start = number(trimmed);
        } else if in_tier && trimmed.starts_with("xmax =") {
            end = number(trimmed);
            if start == Some(0.0) && intervals.is_empty() {
                tier_end = end.unwrap_or(0.0);
            }
        } else if in_tier && trimmed.starts_with("text =") {
            match (start, end, quoted(trimmed)) {
                (Some(s), Some(e), Some(t)) => intervals.push((s, e, t)),
                _ => imported.problem(
                    path,
                    0,
                    format!("an interval of tier {tier:?} is malformed"),
                ),
            }
        }
    }
    if intervals.is_empty() {
        imported.problem(path, 0, format!("no tier {tier:?} with intervals"));
    }
    imported
        .edits
        .extend(interval_edits(file, intervals, tier_end, first_segment_id));
    Ok(imported)
}

/// Labelled intervals of one tier as edits: one spanning the whole recording (0 to `whole_end`)
/// sets the class; the others become segments.
fn interval_edits(
    file: &str,
    intervals: Vec<(f64, f64, String)>,
    whole_end: f64,
    first_segment_id: u64,
) -> Vec<(String, Op)> {
    intervals
        .into_iter()
        .enumerate()
        .filter(|(_, (_, _, text))| !text.is_empty())
        .map(|(index, (start, end, text))| {
            let op = if start <= 1e-9 && (end - whole_end).abs() < 1e-3 {
                Op::SetClass {
                    class: Some(text),
                    source: ClassSource::Human,
                    model: None,
                }
            } else {
                Op::PutSegment {
                    segment: Segment {
                        id: first_segment_id + index as u64,
                        start_s: start,
                        end_s: end,
                        class: text,
                        attributes: BTreeMap::new(),
                    },
                }
            };
            (file.to_owned(), op)
        })
        .collect()
}

/// An ELAN `.eaf` for recording `file`: the tier `tier`'s time-aligned annotations (one spanning
/// the document's whole time line sets the class, the others become segments). Our comment tiers
/// are refused with a problem, so their threads never turn into classes or segments.
///
/// # Errors
/// The file cannot be read.
pub fn eaf(
    path: &Path,
    file: &str,
    tier: &str,
    first_segment_id: u64,
) -> std::io::Result<Imported> {
    use quick_xml::events::Event;
    let mut imported = Imported::default();
    let text = read_text_capped(path, MAX_TIER_FILE_BYTES)?;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut slots: BTreeMap<String, f64> = BTreeMap::new();
    let mut spans: Vec<(String, String, String)> = Vec::new();
    let mut in_tier = false;
    let mut current: Option<(String, String)> = None;
    let mut in_value = false;
    let mut value = String::new();
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                imported.problem(path, 0, format!("not valid XML: {error}"));
                return Ok(imported);
            }
        };
        match event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"TIME_SLOT" => {
                    if let (Some(id), Some(ms)) = (
                        xml_attribute(&e, b"TIME_SLOT_ID"),
                        xml_attribute(&e, b"TIME_VALUE").and_then(|v| v.parse::<f64>().ok()),
                    ) {
                        slots.insert(id, ms / 1000.0);
                    }
                }
                b"TIER" => {
                    in_tier = xml_attribute(&e, b"TIER_ID").as_deref() == Some(tier);
                    if in_tier
                        && xml_attribute(&e, b"LINGUISTIC_TYPE_REF").as_deref()
                            == Some(COMMENT_TYPE)
                    {
                        imported.problem(
                            path,
                            0,
                            format!("tier {tier:?} holds comments, which are not imported (a comment belongs to its author's journal); name a tier of classes or segments"),
                        );
                        return Ok(imported);
                    }
                }
                b"ALIGNABLE_ANNOTATION" if in_tier => {
                    current = xml_attribute(&e, b"TIME_SLOT_REF1")
                        .zip(xml_attribute(&e, b"TIME_SLOT_REF2"));
                }
                b"ANNOTATION_VALUE" if current.is_some() => {
                    in_value = true;
                    value.clear();
                }
                _ => {}
            },
            Event::Text(t) if in_value => {
                value.push_str(&t.xml10_content().map_err(std::io::Error::other)?);
            }
            Event::GeneralRef(r) if in_value => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    value.push(c);
                } else {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    value.push_str(match name.as_str() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"ANNOTATION_VALUE" if in_value => {
                    in_value = false;
                    if let Some((a, b)) = current.take() {
                        spans.push((a, b, value.trim().to_owned()));
                    }
                }
                b"TIER" => in_tier = false,
                _ => {}
            },
            _ => {}
        }
    }
    let whole_end = slots.values().copied().fold(0.0, f64::max);
    let mut intervals = Vec::new();
    for (a, b, text) in spans {
        match (slots.get(&a), slots.get(&b)) {
            (Some(&start), Some(&end)) => intervals.push((start, end, text)),
            _ => imported.problem(
                path,
                0,
                format!("annotation refers to unknown time slots {a}/{b}"),
            ),
        }
    }
    if intervals.is_empty() {
        imported.problem(path, 0, format!("no tier {tier:?} with annotations"));
    }
    imported
        .edits
        .extend(interval_edits(file, intervals, whole_end, first_segment_id));
    Ok(imported)
}
