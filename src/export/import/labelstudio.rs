//! Label Studio's JSON export (a list of tasks, as our `tasks.json` or Label Studio's own
//! "JSON" export) into one annotator's edits: `choices` set the class, `labels` regions become
//! segments, `number` and `rating` results of a control named after an attribute set it. What
//! cannot be taken is reported per task (a task for a recording the project does not list, a region
//! past the end of its recording, an unknown control or class) and the rest is imported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Imported;
use crate::annotation::{ClassSource, Op, Segment};
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
    let text = std::fs::read_to_string(path)?;
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
        for result in &results {
            let kind = result.get("type").and_then(Value::as_str).unwrap_or("");
            let control = result
                .get("from_name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let value = result.get("value").cloned().unwrap_or(Value::Null);
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
                        (number(&value, "start"), number(&value, "end"), label)
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
                    imported.edits.push((
                        file.to_owned(),
                        Op::PutSegment {
                            segment: Segment {
                                id: next_id,
                                start_s,
                                end_s,
                                class: label.to_owned(),
                                attributes: BTreeMap::new(),
                            },
                        },
                    ));
                    next_id += 1;
                }
                "number" | "rating" if scheme.attributes.iter().any(|a| a.id == control) => {
                    if value.get("start").is_some() {
                        problem(format!(
                            "{control}: a per-region value is not kept (segments have no attributes in the studio)"
                        ));
                    } else if let Some(v) = number(&value, kind) {
                        attributes.insert(control.to_owned(), Some(v));
                    }
                }
                _ => problem(format!("unknown control {control:?} ({kind}) skipped")),
            }
        }
        if !attributes.is_empty() {
            imported
                .edits
                .push((file.to_owned(), Op::SetAttributes { values: attributes }));
        }
    }
    Ok(imported)
}
