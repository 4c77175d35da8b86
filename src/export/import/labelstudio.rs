//! Label Studio's JSON export (a list of tasks, as our `tasks.json` or Label Studio's own
//! "JSON" export) into one annotator's edits: `choices` set the class, `labels` regions become
//! segments, `number` and `rating` results of a control named after an attribute set it — on the
//! recording, or, with the region's `start` in the value (a `perRegion` control: the result has the
//! id of the region it rates), on that segment. What cannot be taken is reported per task (a task
//! for a recording the project does not list, a region past the end of its recording, an unknown
//! control or class, a rating outside its scale or of no region) and the rest is imported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Imported;
use crate::annotation::request::check_attribute;
use crate::annotation::{ClassSource, Op, Segment};
use crate::export::labelstudio::REGION_CONTROL_PREFIX;
use crate::project::LabelScheme;

/// A recording as the project lists it, and where its file is.
pub struct Listed<'a> {
    pub listed: &'a str,
    pub path: &'a Path,
}

/// The listed recording a task's `data` names: `data.file`, else `data.audio` as listed, else the
/// one recording whose listed path ends `data.audio` (Label Studio rewrites uploads as
/// `/data/upload/…/NAME`), else whose file name is its last part.
fn recording_of<'a>(data: &Value, recordings: &'a [Listed<'a>]) -> Result<&'a Listed<'a>, String> {
    let named = data
        .get("file")
        .or_else(|| data.get("audio"))
        .and_then(Value::as_str)
        .ok_or("the task's data has neither \"file\" nor \"audio\"")?;
    if let Some(found) = recordings.iter().find(|r| r.listed == named) {
        return Ok(found);
    }
    let last = named.rsplit('/').next().unwrap_or(named);
    let mut candidates = recordings.iter().filter(|r| {
        named.ends_with(&format!("/{}", r.listed)) || r.listed.rsplit('/').next() == Some(last)
    });
    match (candidates.next(), candidates.next()) {
        (Some(found), None) => Ok(found),
        (Some(_), Some(_)) => Err(format!(
            "{named:?} matches several recordings of the project"
        )),
        (None, _) => Err(format!("{named:?} is not a recording of this project")),
    }
}

/// The annotation to take: the one `only_annotator` made (our exports name it), else the last
/// one not cancelled.
fn chosen_annotation<'a>(task: &'a Value, only_annotator: Option<&str>) -> Option<&'a Value> {
    let annotations = task.get("annotations")?.as_array()?;
    let mut usable = annotations
        .iter()
        .filter(|a| a.get("was_cancelled") != Some(&Value::Bool(true)));
    match only_annotator {
        Some(name) => {
            usable.rfind(|a| a.get("merit_annotator").and_then(Value::as_str) == Some(name))
        }
        None => usable.next_back(),
    }
}

fn number(value: &Value, key: &str) -> Option<f64> {
    value.get(key).and_then(Value::as_f64)
}

/// The attribute a `number` or `rating` control sets: one named after it, or (per region, as our
/// config names them) [`REGION_CONTROL_PREFIX`] and its name.
fn attribute_of<'a>(scheme: &LabelScheme, control: &'a str) -> Option<&'a str> {
    let known = |name: &str| scheme.attributes.iter().any(|a| a.id == name);
    control
        .strip_prefix(REGION_CONTROL_PREFIX)
        .filter(|name| known(name))
        .or_else(|| known(control).then_some(control))
}

/// Reads a Label Studio JSON export at `path` for the project's `recordings`; new segments are
/// numbered from `first_segment_id`.
///
/// # Errors
/// The file cannot be read, or is not a JSON list.
pub fn labelstudio(
    path: &Path,
    scheme: &LabelScheme,
    recordings: &[Listed<'_>],
    only_annotator: Option<&str>,
    first_segment_id: u64,
) -> std::io::Result<Imported> {
    let text = crate::fsio::read_text_capped(path, super::MAX_COLLECTION_FILE_BYTES)?;
    let tasks: Vec<Value> = serde_json::from_str(&text)
        .map_err(|e| std::io::Error::other(format!("not a JSON list of tasks: {e}")))?;
    let mut imported = Imported::default();
    let mut next_id = first_segment_id;
    let mut durations: BTreeMap<PathBuf, Option<f64>> = BTreeMap::new();
    for (index, task) in tasks.iter().enumerate() {
        let number_in_file = index as u64 + 1;
        let name = task.get("id").map_or_else(
            || format!("task {number_in_file}"),
            |id| format!("task {id}"),
        );
        let recording = match task
            .get("data")
            .ok_or("the task has no data".to_owned())
            .and_then(|d| recording_of(d, recordings))
        {
            Ok(recording) => recording,
            Err(reason) => {
                imported.problem(path, number_in_file, format!("{name}: {reason}"));
                continue;
            }
        };
        let Some(annotation) = chosen_annotation(task, only_annotator) else {
            continue;
        };
        let results = annotation
            .get("result")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let file = recording.listed;
        let mut attributes = BTreeMap::new();
        // Regions by their result id: per-region values carry the id of the region they rate.
        let mut regions: Vec<(Option<&str>, Segment)> = Vec::new();
        let mut region_values = Vec::new();
        for result in &results {
            let kind = result.get("type").and_then(Value::as_str).unwrap_or("");
            let control = result
                .get("from_name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let value = result.get("value").unwrap_or(&Value::Null);
            let mut problem = |message: String| {
                imported.problem(path, number_in_file, format!("{name} ({file}): {message}"));
            };
            match kind {
                "choices" => {
                    let choice = value
                        .get("choices")
                        .and_then(|c| c.get(0))
                        .and_then(Value::as_str);
                    match choice.and_then(|c| scheme.resolve_class(c)) {
                        Some(class) => imported.edits.push((
                            file.to_owned(),
                            Op::SetClass {
                                class: Some(class.id.clone()),
                                source: ClassSource::Human,
                                model: None,
                            },
                        )),
                        None => problem(format!(
                            "{control}: {choice:?} is not a class of the project"
                        )),
                    }
                }
                "labels" => {
                    let label = value
                        .get("labels")
                        .and_then(|c| c.get(0))
                        .and_then(Value::as_str);
                    let (Some(start_s), Some(end_s), Some(label)) =
                        (number(value, "start"), number(value, "end"), label)
                    else {
                        problem(format!("{control}: a region needs start, end and a label"));
                        continue;
                    };
                    let duration = *durations
                        .entry(recording.path.to_path_buf())
                        .or_insert_with(|| {
                            crate::audio::probe(recording.path)
                                .ok()
                                .and_then(|i| i.duration_secs())
                        });
                    if let Some(duration) = duration
                        && end_s > duration + 0.001
                    {
                        problem(format!(
                            "region {start_s:.3}–{end_s:.3} s ends past the recording's end ({duration:.3} s); skipped"
                        ));
                        continue;
                    }
                    let segment = Segment {
                        id: next_id,
                        start_s,
                        end_s,
                        class: label.to_owned(),
                        attributes: BTreeMap::new(),
                    };
                    regions.push((result.get("id").and_then(Value::as_str), segment));
                    next_id += 1;
                }
                "number" | "rating" => {
                    let per_region = value.get("start").is_some();
                    match (attribute_of(scheme, control), number(value, kind)) {
                        (None, _) => {
                            problem(format!("unknown control {control:?} ({kind}) skipped"));
                        }
                        (Some(_), None) => problem(format!("{control}: no {kind} value; skipped")),
                        (Some(attribute), Some(v)) if per_region => region_values.push((
                            result.get("id").and_then(Value::as_str),
                            attribute,
                            v,
                        )),
                        (Some(attribute), Some(v)) if attribute == control => {
                            attributes.insert(attribute.to_owned(), Some(v));
                        }
                        (Some(_), Some(_)) => problem(format!(
                            "{control}: a per-region value without a region; skipped"
                        )),
                    }
                }
                _ => problem(format!("unknown control {control:?} ({kind}) skipped")),
            }
        }
        for (region, attribute, v) in region_values {
            let region = region.unwrap_or("");
            let rated = regions.iter_mut().find(|(id, _)| *id == Some(region));
            let message = match (rated, check_attribute(scheme, attribute, Some(v))) {
                (Some((_, segment)), Ok(())) => {
                    segment.attributes.insert(attribute.to_owned(), v);
                    continue;
                }
                (Some(_), Err(reason)) => format!("region {region}: {reason}; skipped"),
                (None, _) => format!(
                    "{attribute} {v} rates region {region:?}, which is not a labels region kept here; skipped"
                ),
            };
            imported.problem(path, number_in_file, format!("{name} ({file}): {message}"));
        }
        imported.edits.extend(
            regions
                .into_iter()
                .map(|(_, segment)| (file.to_owned(), Op::PutSegment { segment })),
        );
        if !attributes.is_empty() {
            imported
                .edits
                .push((file.to_owned(), Op::SetAttributes { values: attributes }));
        }
    }
    Ok(imported)
}
