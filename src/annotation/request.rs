//! The headless edit format of `merit-studio label` (one JSON object per line) and the checks
//! every edit passes against the project's label scheme, whether it comes from a line or the window.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::label::{ClassSource, Comment, CommentRef, Flag, Label, Op, Segment};
use super::segments::{SegmentEdit, SegmentError, check_fits};
use crate::project::LabelScheme;

/// Why a line or an edit is refused; nothing is changed for it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("not a valid edit: {0}")]
    NotJson(String),
    #[error("an edit needs \"file\" (the recording as the project lists it)")]
    NoFile,
    #[error("the line asks for no edit")]
    NoEdit,
    #[error("one edit per line, please")]
    SeveralEdits,
    #[error("unknown class {name:?}; the project's classes are {known:?}")]
    UnknownClass { name: String, known: Vec<String> },
    #[error("unknown attribute {0:?}")]
    UnknownAttribute(String),
    #[error("{name} {value} is outside its scale {min}..{max}")]
    OutsideScale {
        name: String,
        value: f64,
        min: f64,
        max: f64,
    },
    #[error("a segment needs 0 <= start_s < end_s, not {start_s}..{end_s}")]
    BadSegment { start_s: f64, end_s: f64 },
    #[error("confidence {0} is outside 0..1")]
    BadConfidence(f64),
    #[error(transparent)]
    Segment(#[from] SegmentError),
    #[error("a comment needs some text")]
    EmptyComment,
}

/// What one input line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Edit {
        file: String,
        op: Op,
    },
    /// A segment edit (split, merge, move a boundary…), resolved against the label as it is.
    Segment {
        file: String,
        edit: SegmentEdit,
    },
    /// Set the class to the model's prediction for `file`.
    AcceptModel {
        file: String,
    },
    Undo,
    Redo,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    file: Option<String>,
    class: Option<String>,
    attributes: Option<BTreeMap<String, Option<f64>>>,
    accept_model: Option<bool>,
    segment: Option<SegmentLine>,
    remove_segment: Option<u64>,
    segment_edit: Option<SegmentEdit>,
    comment: Option<CommentLine>,
    remove_comment: Option<u64>,
    note: Option<String>,
    flag: Option<Flag>,
    unflag: Option<Flag>,
    confidence: Option<f64>,
    undo: Option<bool>,
    redo: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentLine {
    id: Option<u64>,
    start_s: f64,
    end_s: f64,
    class: String,
    #[serde(default)]
    attributes: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentLine {
    /// To edit or resolve an existing comment; a new one gets the next id.
    id: Option<u64>,
    text: String,
    segment: Option<u64>,
    reply_to: Option<CommentRef>,
    #[serde(default)]
    resolved: bool,
}

/// Now, in milliseconds since the Unix epoch.
#[must_use]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Parses one line; `next_id` numbers new segments and comments.
///
/// # Errors
/// [`RequestError`] saying what is wrong with the line.
pub fn parse_request(
    text: &str,
    scheme: &LabelScheme,
    next_id: u64,
) -> Result<Request, RequestError> {
    let line: Line =
        serde_json::from_str(text).map_err(|e| RequestError::NotJson(e.to_string()))?;
    if line.undo == Some(true) {
        return Ok(Request::Undo);
    }
    if line.redo == Some(true) {
        return Ok(Request::Redo);
    }
    let file = line.file.clone().ok_or(RequestError::NoFile)?;
    let mut requests = Vec::new();
    if let Some(class) = line.class {
        requests.push(Request::Edit {
            file: file.clone(),
            op: Op::SetClass {
                class: Some(class),
                source: ClassSource::Human,
                model: None,
            },
        });
    }
    if let Some(values) = line.attributes {
        requests.push(Request::Edit {
            file: file.clone(),
            op: Op::SetAttributes { values },
        });
    }
    if line.accept_model == Some(true) {
        requests.push(Request::AcceptModel { file: file.clone() });
    }
    if let Some(s) = line.segment {
        requests.push(Request::Edit {
            file: file.clone(),
            op: Op::PutSegment {
                segment: Segment {
                    id: s.id.unwrap_or(next_id),
                    start_s: s.start_s,
                    end_s: s.end_s,
                    class: s.class,
                    attributes: s.attributes,
                },
            },
        });
    }
    if let Some(id) = line.remove_segment {
        requests.push(Request::Edit {
            file: file.clone(),
            op: Op::RemoveSegment { id },
        });
    }
    if let Some(edit) = line.segment_edit {
        requests.push(Request::Segment {
            file: file.clone(),
            edit,
        });
    }
    if let Some(c) = line.comment {
        requests.push(Request::Edit {
            file: file.clone(),
            op: Op::PutComment {
                comment: Comment {
                    id: c.id.unwrap_or(next_id),
                    segment: c.segment,
                    reply_to: c.reply_to,
                    time_ms: now_ms(),
                    text: c.text,
                    resolved: c.resolved,
                },
            },
        });
    }
    if let Some(id) = line.remove_comment {
        requests.push(Request::Edit {
            file: file.clone(),
            op: Op::RemoveComment { id },
        });
    }
    if let Some(note) = line.note {
        requests.push(Request::Edit {
            file: file.clone(),
            op: Op::SetNote { note },
        });
    }
    for (flag, on) in [(line.flag, true), (line.unflag, false)] {
        if let Some(flag) = flag {
            requests.push(Request::Edit {
                file: file.clone(),
                op: Op::SetFlag { flag, on },
            });
        }
    }
    if let Some(confidence) = line.confidence {
        requests.push(Request::Edit {
            file: file.clone(),
            op: Op::SetConfidence {
                confidence: Some(confidence),
            },
        });
    }
    let request = match requests.len() {
        0 => return Err(RequestError::NoEdit),
        1 => requests.remove(0),
        _ => return Err(RequestError::SeveralEdits),
    };
    match request {
        Request::Edit { file, op } => Ok(Request::Edit {
            op: check_op(op, scheme)?,
            file,
        }),
        other => Ok(other),
    }
}

/// Checks `op` against the label scheme and writes classes as their ids.
///
/// # Errors
/// [`RequestError`] naming the class, attribute or value the scheme does not allow.
pub fn check_op(op: Op, scheme: &LabelScheme) -> Result<Op, RequestError> {
    let class_id = |name: &str| {
        scheme
            .resolve_class(name)
            .map(|c| c.id.clone())
            .ok_or_else(|| RequestError::UnknownClass {
                name: name.to_owned(),
                known: scheme.classes.iter().map(|c| c.id.clone()).collect(),
            })
    };
    Ok(match op {
        Op::SetClass {
            class: Some(class),
            source,
            model,
        } => Op::SetClass {
            class: Some(class_id(&class)?),
            source,
            model,
        },
        Op::SetAttributes { values } => {
            for (name, value) in &values {
                check_attribute(scheme, name, *value)?;
            }
            Op::SetAttributes { values }
        }
        Op::PutSegment { segment } => Op::PutSegment {
            segment: check_segment(segment, scheme, &class_id)?,
        },
        Op::EditSegments { remove, put } => Op::EditSegments {
            remove,
            put: put
                .into_iter()
                .map(|segment| check_segment(segment, scheme, &class_id))
                .collect::<Result<_, _>>()?,
        },
        Op::SetConfidence {
            confidence: Some(c),
        } if !(0.0..=1.0).contains(&c) => {
            return Err(RequestError::BadConfidence(c));
        }
        Op::PutComment { comment } if comment.text.trim().is_empty() => {
            return Err(RequestError::EmptyComment);
        }
        other => other,
    })
}

/// An attribute of the scheme, with its value (`None`: cleared) on the attribute's scale.
///
/// # Errors
/// [`RequestError::UnknownAttribute`] or [`RequestError::OutsideScale`].
pub fn check_attribute(
    scheme: &LabelScheme,
    name: &str,
    value: Option<f64>,
) -> Result<(), RequestError> {
    let scale = scheme
        .attributes
        .iter()
        .find(|a| a.id == name)
        .ok_or_else(|| RequestError::UnknownAttribute(name.to_owned()))?;
    match value {
        Some(value) if !(scale.min..=scale.max).contains(&value) => {
            Err(RequestError::OutsideScale {
                name: name.to_owned(),
                value,
                min: scale.min,
                max: scale.max,
            })
        }
        _ => Ok(()),
    }
}

fn check_segment(
    mut segment: Segment,
    scheme: &LabelScheme,
    class_id: &impl Fn(&str) -> Result<String, RequestError>,
) -> Result<Segment, RequestError> {
    if !(segment.start_s >= 0.0 && segment.end_s > segment.start_s) {
        return Err(RequestError::BadSegment {
            start_s: segment.start_s,
            end_s: segment.end_s,
        });
    }
    segment.class = class_id(&segment.class)?;
    for (name, value) in &segment.attributes {
        check_attribute(scheme, name, Some(*value))?;
    }
    Ok(segment)
}

/// [`check_op`], and the overlap rule of [`super::segments`] against `label` (the annotator's
/// label of the recording as it is now): the checks every new edit passes, from the window or a
/// `label` line.
///
/// # Errors
/// As [`check_op`], or [`RequestError::Segment`] when segments would overlap.
pub fn check_edit(op: Op, scheme: &LabelScheme, label: Option<&Label>) -> Result<Op, RequestError> {
    let op = check_op(op, scheme)?;
    check_fits(label.map_or(&[], |l| &l.segments), &op)?;
    Ok(op)
}

/// Resolves a segment edit against `label` (see [`SegmentEdit::resolve`]) and checks the result
/// like any edit; `Ok(None)`: nothing would change.
///
/// # Errors
/// As [`check_edit`].
pub fn resolve_segment_edit(
    edit: &SegmentEdit,
    scheme: &LabelScheme,
    label: Option<&Label>,
    duration_s: f64,
    new_id: u64,
) -> Result<Option<Op>, RequestError> {
    let segments = label.map_or(&[][..], |l| &l.segments);
    edit.resolve(segments, duration_s, new_id)?
        .map(|op| check_edit(op, scheme, label))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Request, RequestError> {
        parse_request(text, &LabelScheme::sparse_merit(), 10)
    }

    #[test]
    fn the_documented_line_forms_parse() {
        assert_eq!(
            parse(r#"{"file": "a.wav", "class": "Angry"}"#),
            Ok(Request::Edit {
                file: "a.wav".into(),
                op: Op::SetClass {
                    class: Some("angry".into()),
                    source: ClassSource::Human,
                    model: None,
                }
            })
        );
        assert!(matches!(
            parse(r#"{"file": "a.wav", "attributes": {"arousal": 5, "valence": 2}}"#),
            Ok(Request::Edit {
                op: Op::SetAttributes { .. },
                ..
            })
        ));
        assert_eq!(
            parse(r#"{"file": "a.wav", "accept_model": true}"#),
            Ok(Request::AcceptModel {
                file: "a.wav".into()
            })
        );
        let Ok(Request::Edit {
            op: Op::PutSegment { segment },
            ..
        }) = parse(
            r#"{"file": "a.wav", "segment": {"start_s": 1.2, "end_s": 3.4, "class": "sad", "attributes": {"arousal": 6}}}"#,
        )
        else {
            panic!("segment")
        };
        assert_eq!((segment.id, segment.class.as_str()), (10, "sad"));
        assert_eq!(segment.attributes, [("arousal".to_owned(), 6.0)].into());
        assert!(parse(r#"{"file": "a.wav", "note": "laughs"}"#).is_ok());
        assert_eq!(parse(r#"{"undo": true}"#), Ok(Request::Undo));
    }

    #[test]
    fn bad_lines_say_why() {
        for (line, expected) in [
            ("{", "not a valid edit"),
            (r#"{"class": "sad"}"#, "needs \"file\""),
            (r#"{"file": "a.wav", "class": "bored"}"#, "unknown class"),
            (
                r#"{"file": "a.wav", "attributes": {"arousal": 9}}"#,
                "outside its scale",
            ),
            (
                r#"{"file": "a.wav", "attributes": {"pitch": 3}}"#,
                "unknown attribute",
            ),
            (
                r#"{"file": "a.wav", "segment": {"start_s": 3, "end_s": 1, "class": "sad"}}"#,
                "start_s < end_s",
            ),
            (
                r#"{"file": "a.wav", "segment": {"start_s": 1, "end_s": 2, "class": "sad", "attributes": {"valence": 0}}}"#,
                "outside its scale",
            ),
            (
                r#"{"file": "a.wav", "class": "sad", "note": "x"}"#,
                "one edit per line",
            ),
            (r#"{"file": "a.wav"}"#, "no edit"),
            (r#"{"file": "a.wav", "colour": "red"}"#, "unknown field"),
        ] {
            let error = parse(line).unwrap_err().to_string();
            assert!(error.contains(expected), "{line}: {error}");
        }
    }
}
