//! One annotator's label for one recording, and the edits that change it. Every edit returns its
//! inverse, so undo is just another edit in the journal.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::trace::{TRACE_VERSION, TraceEdit, Traces};

/// Things an annotator can flag about a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    BadAudio,
    OverlappingSpeech,
    NotSpeech,
}

impl Flag {
    pub const ALL: [Self; 3] = [Self::BadAudio, Self::OverlappingSpeech, Self::NotSpeech];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::BadAudio => "bad audio",
            Self::OverlappingSpeech => "overlapping speech",
            Self::NotSpeech => "not speech",
        }
    }
}

/// A stretch of a recording with its own class, for recordings whose emotion changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Unique within the annotator's labels (the journal sequence number that created it).
    pub id: u64,
    pub start_s: f64,
    pub end_s: f64,
    pub class: String,
    /// Ratings of this stretch on the scheme's attribute scales (Label Studio's per-region
    /// ratings); a split gives both halves the same ones, a merge keeps the first's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, f64>,
}

/// The comment a reply answers: its author (whose label holds it) and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentRef {
    pub author: String,
    pub id: u64,
}

/// A remark on a recording or one of its segments, by the annotator whose label holds it; a reply
/// names the comment it answers, so threads can span annotators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Unique within the annotator's labels (the journal sequence number that created it).
    pub id: u64,
    /// The segment it is about (`None`: the whole recording).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<CommentRef>,
    /// When it was written (milliseconds since the Unix epoch).
    pub time_ms: u64,
    pub text: String,
    #[serde(default)]
    pub resolved: bool,
}

/// Where the categorical label came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassSource {
    /// Chosen by the annotator.
    #[default]
    Human,
    /// The model's prediction, accepted by the annotator.
    AcceptedModel,
}

/// One edit of one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    SetClass {
        class: Option<String>,
        #[serde(default)]
        source: ClassSource,
        /// For an accepted prediction: the blake3 hash of the model that proposed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// Sets the named attributes (`None` clears one); others are left alone.
    SetAttributes {
        values: BTreeMap<String, Option<f64>>,
    },
    /// Adds a segment, or replaces the one with the same id.
    PutSegment {
        segment: Segment,
    },
    RemoveSegment {
        id: u64,
    },
    /// Removes the segments `remove`, then puts `put` (adding or replacing by id): a split, a merge
    /// or a moved boundary is one edit, so one undo step (see `segments`).
    EditSegments {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remove: Vec<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        put: Vec<Segment>,
    },
    SetNote {
        note: String,
    },
    SetFlag {
        flag: Flag,
        on: bool,
    },
    SetConfidence {
        confidence: Option<f64>,
    },
    /// Adds a comment, or replaces the one with the same id (an edit, resolving it).
    PutComment {
        comment: Comment,
    },
    RemoveComment {
        id: u64,
    },
    /// A change to the annotator's time-continuous traces (`tv`: the trace fields' version).
    Trace {
        tv: u32,
        #[serde(flatten)]
        edit: TraceEdit,
    },
}

impl Op {
    /// A trace edit of the current version.
    #[must_use]
    pub fn trace(edit: TraceEdit) -> Self {
        Self::Trace {
            tv: TRACE_VERSION,
            edit,
        }
    }

    /// Whether this build understands the edit (a trace edit of a newer version is skipped).
    #[must_use]
    pub fn known_version(&self) -> bool {
        !matches!(self, Self::Trace { tv, .. } if *tv != TRACE_VERSION)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Label {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(default)]
    pub source: ClassSource,
    /// For an accepted prediction: the blake3 hash of the model that proposed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<Segment>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub flags: BTreeSet<Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Comments and replies (a comment alone does not make a recording reviewed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
    /// Time-continuous traces, pass by pass.
    #[serde(default, skip_serializing_if = "Traces::is_empty")]
    pub traces: Traces,
    /// When the label last changed (milliseconds since the Unix epoch).
    #[serde(default)]
    pub updated_ms: u64,
}

impl Label {
    /// Applies `op`; returns the edit that undoes it.
    pub fn apply(&mut self, op: &Op) -> Op {
        match op {
            Op::SetClass {
                class,
                source,
                model,
            } => {
                let inverse = Op::SetClass {
                    class: self.class.clone(),
                    source: self.source,
                    model: self.model.clone(),
                };
                self.class.clone_from(class);
                self.source = *source;
                self.model.clone_from(model);
                inverse
            }
            Op::SetAttributes { values } => {
                let mut previous = BTreeMap::new();
                for (name, value) in values {
                    previous.insert(name.clone(), self.attributes.get(name).copied());
                    match value {
                        Some(value) => {
                            self.attributes.insert(name.clone(), *value);
                        }
                        None => {
                            self.attributes.remove(name);
                        }
                    }
                }
                Op::SetAttributes { values: previous }
            }
            Op::PutSegment { segment } => {
                let previous = self.segments.iter().position(|s| s.id == segment.id);
                let inverse = match previous {
                    Some(index) => Op::PutSegment {
                        segment: std::mem::replace(&mut self.segments[index], segment.clone()),
                    },
                    None => {
                        self.segments.push(segment.clone());
                        Op::RemoveSegment { id: segment.id }
                    }
                };
                self.segments
                    .sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
                inverse
            }
            Op::RemoveSegment { id } => match self.segments.iter().position(|s| s.id == *id) {
                Some(index) => Op::PutSegment {
                    segment: self.segments.remove(index),
                },
                None => Op::RemoveSegment { id: *id },
            },
            Op::EditSegments { remove, put } => self.edit_segments(remove, put),
            Op::SetNote { note } => Op::SetNote {
                note: std::mem::replace(&mut self.note, note.clone()),
            },
            Op::SetFlag { flag, on } => {
                let was = if *on {
                    !self.flags.insert(*flag)
                } else {
                    self.flags.remove(flag)
                };
                Op::SetFlag {
                    flag: *flag,
                    on: was,
                }
            }
            Op::SetConfidence { confidence } => Op::SetConfidence {
                confidence: std::mem::replace(&mut self.confidence, *confidence),
            },
            Op::Trace { edit, .. } => Op::trace(self.traces.apply(edit)),
            Op::PutComment { comment } => {
                match self.comments.iter_mut().find(|c| c.id == comment.id) {
                    Some(old) => Op::PutComment {
                        comment: std::mem::replace(old, comment.clone()),
                    },
                    None => {
                        self.comments.push(comment.clone());
                        Op::RemoveComment { id: comment.id }
                    }
                }
            }
            Op::RemoveComment { id } => match self.comments.iter().position(|c| c.id == *id) {
                Some(index) => Op::PutComment {
                    comment: self.comments.remove(index),
                },
                None => Op::RemoveComment { id: *id },
            },
        }
    }

    /// Removes, then puts; the inverse removes every put id and puts back what was there.
    fn edit_segments(&mut self, remove: &[u64], put: &[Segment]) -> Op {
        let mut restore = Vec::new();
        self.segments.retain(|s| {
            let removed = remove.contains(&s.id);
            if removed {
                restore.push(s.clone());
            }
            !removed
        });
        for segment in put {
            match self.segments.iter_mut().find(|s| s.id == segment.id) {
                Some(old) => restore.push(std::mem::replace(old, segment.clone())),
                None => self.segments.push(segment.clone()),
            }
        }
        self.segments
            .sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        Op::EditSegments {
            remove: put.iter().map(|s| s.id).collect(),
            put: restore,
        }
    }

    /// Whether the label says anything at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.class.is_none()
            && self.attributes.is_empty()
            && self.segments.is_empty()
            && self.note.is_empty()
            && self.flags.is_empty()
            && self.confidence.is_none()
            && self.traces.is_empty()
    }
}

#[cfg(test)]
mod tests;
