//! The window's labelling actions: edits of the open recording's label by the current annotator
//! (every one durable before it shows), undo/redo, accepting the model, segments, the review queue.

use crate::annotation::consensus::consensus;
use crate::annotation::queue::{QueueItem, review_order};
use crate::annotation::request::{RequestError, check_op};
use crate::annotation::{AnnotationError, AnnotationStore, ClassSource, Label, Op, Segment};
use crate::project::LabelScheme;

use super::app::StudioApp;
use super::engine::Prediction;

/// Why a label edit was refused (shown in the label strip until the next edit succeeds).
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("annotations not loaded: {0}")]
    NotLoaded(AnnotationError),
    #[error(transparent)]
    Journal(#[from] AnnotationError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("no prediction yet: analyse the recording first (A)")]
    NoPrediction,
    #[error("drag over the time axis to select a stretch first")]
    NoSelection,
    #[error("no segment at the playhead")]
    NoSegmentAtPlayhead,
}

impl StudioApp {
    /// Writes from now on as `name` (taking their journal's lock).
    pub fn set_annotator(&mut self, name: &str) {
        self.annotation_error = self.annotations.set_annotator(name).err().map(Into::into);
        self.annotator_input = name.to_owned();
    }

    /// The open recording as the journals name it (its path as the project lists it).
    pub(super) fn current_file(&self) -> Option<String> {
        let index = self.recording.as_ref()?.index;
        Some(self.collection.recordings.get(index)?.listed_path.clone())
    }

    /// The project's label scheme (the model's four classes before a project is open).
    pub(super) fn scheme(&self) -> &LabelScheme {
        static DEFAULT: std::sync::LazyLock<LabelScheme> =
            std::sync::LazyLock::new(LabelScheme::sparse_merit);
        self.project
            .as_ref()
            .map_or(&*DEFAULT, |p| &p.file.label_scheme)
    }

    /// The current annotator's label of the open recording.
    pub(super) fn current_label(&self) -> Option<&Label> {
        let file = self.current_file()?;
        self.annotations.label(&file, self.annotations.annotator()?)
    }

    /// Applies `op` to the open recording's label; a refusal (no annotator, read-only, bad value)
    /// shows in the window and changes nothing.
    pub(super) fn edit_current(&mut self, op: Op) {
        let Some(file) = self.current_file() else {
            return;
        };
        let result = check_op(op, self.scheme())
            .map_err(LabelError::from)
            .and_then(|op| Ok(self.annotations.edit(&file, op)?));
        self.annotation_error = result.err();
    }

    pub(super) fn set_class(&mut self, index: usize) {
        if let Some(class) = self.scheme().classes.get(index) {
            self.edit_current(Op::SetClass {
                class: Some(class.id.clone()),
                source: ClassSource::Human,
            });
        }
    }

    pub(super) fn accept_model(&mut self) {
        let predicted = self
            .recording
            .as_ref()
            .and_then(|r| r.analysis.as_ref())
            .map(|a| {
                // The model's name for the class ("Angry") as the project's scheme spells it ("angry").
                let top = a.result.top_class();
                self.scheme()
                    .resolve_class(top)
                    .map_or_else(|| top.to_owned(), |c| c.id.clone())
            });
        match predicted {
            Some(class) => self.edit_current(Op::SetClass {
                class: Some(class),
                source: ClassSource::AcceptedModel,
            }),
            None => self.annotation_error = Some(LabelError::NoPrediction),
        }
    }

    pub(super) fn undo_or_redo(&mut self, redo: bool) {
        let result = if redo {
            self.annotations.redo()
        } else {
            self.annotations.undo()
        };
        self.annotation_error = result.err().map(Into::into);
    }

    /// A segment over the selection, with the label's class (or the first class).
    pub(super) fn add_segment(&mut self) {
        let Some((start_s, end_s)) = self.recording.as_ref().and_then(|r| r.selection) else {
            self.annotation_error = Some(LabelError::NoSelection);
            return;
        };
        let class = self
            .current_label()
            .and_then(|l| l.class.clone())
            .or_else(|| self.scheme().classes.first().map(|c| c.id.clone()))
            .unwrap_or_default();
        let id = self.annotations.next_seq().unwrap_or(1);
        self.edit_current(Op::PutSegment {
            segment: Segment {
                id,
                start_s,
                end_s,
                class,
            },
        });
    }

    pub(super) fn remove_segment_at_playhead(&mut self) {
        let at = self.transport.position_s();
        let id = self.current_label().and_then(|label| {
            label
                .segments
                .iter()
                .find(|s| (s.start_s..=s.end_s).contains(&at))
                .map(|s| s.id)
        });
        match id {
            Some(id) => self.edit_current(Op::RemoveSegment { id }),
            None => self.annotation_error = Some(LabelError::NoSegmentAtPlayhead),
        }
    }

    /// What the review queue needs about every recording.
    pub(super) fn queue_items(&self) -> Vec<QueueItem> {
        let me = self.annotations.annotator();
        let predictions = self.engine.predictions();
        self.collection
            .recordings
            .iter()
            .enumerate()
            .map(|(index, recording)| {
                let labels = self.annotations.labels_of(&recording.listed_path);
                let summary = labels.map(|by| consensus(by.values()));
                let own = me.and_then(|me| labels?.get(me));
                let (probs, classes) = match predictions.get(index).cloned().flatten() {
                    Some(Prediction::Analysed { probs, classes, .. }) => (Some(probs), classes),
                    _ => (None, Vec::new()),
                };
                let label = own
                    .and_then(|l| l.class.clone())
                    .or_else(|| summary.as_ref()?.class.clone());
                QueueItem {
                    index,
                    label_class: label
                        .and_then(|l| classes.iter().position(|c| c.eq_ignore_ascii_case(&l))),
                    probs,
                    item_agreement: summary.as_ref().and_then(|s| {
                        let total: usize = s.votes.values().sum();
                        let top = s.votes.values().copied().max()?;
                        (total >= 2).then(|| top as f64 / total as f64)
                    }),
                    reviewed: own.is_some_and(|l| !l.is_empty()),
                    flagged: labels.is_some_and(|by| by.values().any(|l| !l.flags.is_empty())),
                }
            })
            .collect()
    }

    /// Opens the most worth-reviewing recording other than the open one.
    pub(super) fn next_in_queue(&mut self) {
        let current = self.selected;
        let next = review_order(&self.queue_items())
            .into_iter()
            .find(|&index| Some(index) != current);
        if let Some(index) = next {
            self.select(index);
        }
    }

    /// The annotation store (tests read what was written).
    #[must_use]
    pub fn annotations(&self) -> &AnnotationStore {
        &self.annotations
    }
}
