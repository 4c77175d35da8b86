//! The window's labelling part: the journals of every annotator, who is writing, and why the last
//! edit was refused. Edits of the open recording are durable before they show; the review queue
//! says what is most worth a human look.

use crate::annotation::consensus::consensus;
use crate::annotation::queue::QueueItem;
use crate::annotation::request::{RequestError, check_edit, resolve_segment_edit};
use crate::annotation::segments::SegmentEdit;
use crate::annotation::trace::review_figures;
use crate::annotation::{AnnotationError, AnnotationStore, ClassSource, Label, Op};
use crate::project::{Collection, LabelScheme, PassCombine, TraceScheme};

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
    #[error("no segment selected: select one with , and . (or press M twice to make one)")]
    NoSegmentSelected,
}

#[derive(Default)]
pub struct Labelling {
    pub annotations: AnnotationStore,
    /// Why the last label edit was refused.
    pub error: Option<LabelError>,
    /// The annotator name field in the header, as typed.
    pub annotator_input: String,
    /// Who writes: taken as soon as a project's journals are loaded.
    wanted_annotator: Option<String>,
    /// A project's journals are loaded (before that there is no folder to write in).
    loaded: bool,
}

impl Labelling {
    /// Takes a project's replayed journals, with the chosen annotator writing.
    pub fn install(&mut self, loaded: Result<AnnotationStore, AnnotationError>) {
        match loaded {
            Ok(store) => {
                self.annotations = store;
                self.error = None;
            }
            Err(error) => {
                self.annotations = AnnotationStore::default();
                self.error = Some(LabelError::NotLoaded(error));
            }
        }
        for warning in self.annotations.warnings() {
            tracing::warn!("{warning}");
        }
        self.loaded = true;
        if let Some(annotator) = self.wanted_annotator.clone() {
            self.set_annotator(&annotator);
        }
    }

    /// Lets go of the open project's journals (and the annotator's lock) until the next
    /// [`Labelling::install`].
    pub fn close(&mut self) {
        self.annotations = AnnotationStore::default();
        self.error = None;
        self.loaded = false;
    }

    /// Writes from now on as `name` (taking their journal's lock once a project is loaded).
    pub fn set_annotator(&mut self, name: &str) {
        self.wanted_annotator = Some(name.to_owned());
        name.clone_into(&mut self.annotator_input);
        if self.loaded {
            self.error = self.annotations.set_annotator(name).err().map(Into::into);
        }
    }

    /// The recording the current annotator labelled last (where to start when a project opens).
    #[must_use]
    pub fn last_worked_on(&self) -> Option<&str> {
        let me = self.annotations.annotator()?;
        self.annotations
            .iter()
            .filter_map(|(file, by)| Some((file, by.get(me)?.updated_ms)))
            .max_by_key(|(_, updated_ms)| *updated_ms)
            .map(|(file, _)| file.as_str())
    }

    /// The current annotator's label of `file`.
    #[must_use]
    pub fn label_of(&self, file: &str) -> Option<&Label> {
        self.annotations.label(file, self.annotations.annotator()?)
    }

    /// Applies `op` to `file`'s label; a refusal (no annotator, read-only, bad value) is kept to
    /// show and changes nothing.
    pub fn edit(&mut self, file: &str, op: Op, scheme: &LabelScheme) {
        let result = check_edit(op, scheme, self.label_of(file))
            .map_err(LabelError::from)
            .and_then(|op| Ok(self.annotations.edit(file, op)?));
        self.error = result.err();
    }

    /// Makes a segment edit of `file` (a recording of `duration_s`) as one journal edit; the id a
    /// new segment got, or the edited one's; `None` when refused (the reason is kept to show) or
    /// when nothing changed.
    pub fn edit_segment(
        &mut self,
        file: &str,
        edit: &SegmentEdit,
        duration_s: f64,
        scheme: &LabelScheme,
    ) -> Option<u64> {
        let new_id = self.annotations.next_seq().unwrap_or(1);
        let op = resolve_segment_edit(edit, scheme, self.label_of(file), duration_s, new_id);
        let result = match op {
            Ok(Some(op)) => self.annotations.edit(file, op).map_err(LabelError::from),
            Ok(None) => {
                self.error = None;
                return None;
            }
            Err(error) => Err(error.into()),
        };
        match result {
            Ok(applied) => {
                self.error = None;
                Some(match edit {
                    SegmentEdit::Create { .. } | SegmentEdit::Split { .. } => applied.entry.seq,
                    SegmentEdit::Move { id, .. }
                    | SegmentEdit::Nudge { id, .. }
                    | SegmentEdit::MergeWithNext { id }
                    | SegmentEdit::SetClass { id, .. }
                    | SegmentEdit::Remove { id } => *id,
                })
            }
            Err(error) => {
                self.error = Some(error);
                None
            }
        }
    }

    /// The class a new segment gets: the label's class, else the scheme's first.
    #[must_use]
    pub fn new_segment_class(&self, file: &str, scheme: &LabelScheme) -> String {
        self.label_of(file)
            .and_then(|l| l.class.clone())
            .or_else(|| scheme.classes.first().map(|c| c.id.clone()))
            .unwrap_or_default()
    }

    /// Sets the class with `index` in `scheme`.
    pub fn set_class(&mut self, file: &str, index: usize, scheme: &LabelScheme) {
        if let Some(class) = scheme.classes.get(index) {
            let op = Op::SetClass {
                class: Some(class.id.clone()),
                source: ClassSource::Human,
                model: None,
            };
            self.edit(file, op, scheme);
        }
    }

    /// Takes the model's top class (`None`: not analysed yet) as the label, recording the hash of
    /// the model that proposed it.
    pub fn accept_model(
        &mut self,
        file: &str,
        prediction: Option<(&str, Option<String>)>,
        scheme: &LabelScheme,
    ) {
        let Some((top, model)) = prediction else {
            self.error = Some(LabelError::NoPrediction);
            return;
        };
        // The model's name for the class ("Angry") as the project's scheme spells it ("angry").
        let class = scheme
            .resolve_class(top)
            .map_or_else(|| top.to_owned(), |c| c.id.clone());
        let op = Op::SetClass {
            class: Some(class),
            source: ClassSource::AcceptedModel,
            model,
        };
        self.edit(file, op, scheme);
    }

    pub fn undo_or_redo(&mut self, redo: bool) {
        let result = if redo {
            self.annotations.redo()
        } else {
            self.annotations.undo()
        };
        self.error = result.err().map(Into::into);
    }

    /// A segment over `selection` (from its start; see the overlap rule in
    /// `annotation::segments`), with the label's class (or the scheme's first class).
    pub fn add_segment(
        &mut self,
        file: &str,
        selection: Option<(f64, f64)>,
        duration_s: f64,
        scheme: &LabelScheme,
    ) -> Option<u64> {
        let Some((anchor_s, to_s)) = selection else {
            self.error = Some(LabelError::NoSelection);
            return None;
        };
        let class = self.new_segment_class(file, scheme);
        let edit = SegmentEdit::Create {
            anchor_s,
            to_s,
            class,
        };
        self.edit_segment(file, &edit, duration_s, scheme)
    }

    pub fn remove_segment_at(&mut self, file: &str, at_s: f64, scheme: &LabelScheme) {
        let id = self.label_of(file).and_then(|label| {
            label
                .segments
                .iter()
                .find(|s| (s.start_s..=s.end_s).contains(&at_s))
                .map(|s| s.id)
        });
        match id {
            Some(id) => self.edit(file, Op::RemoveSegment { id }, scheme),
            None => self.error = Some(LabelError::NoSegmentAtPlayhead),
        }
    }
}

/// What the review queue needs about every recording.
#[must_use]
pub fn queue_items(
    collection: &Collection,
    annotations: &AnnotationStore,
    predictions: &[Option<Prediction>],
    (schemes, combine): (&[TraceScheme], PassCombine),
) -> Vec<QueueItem> {
    let me = annotations.annotator();
    collection
        .recordings
        .iter()
        .enumerate()
        .map(|(index, recording)| {
            let labels = annotations.labels_of(&recording.listed_path);
            let summary = labels.map(|by| consensus(by.values()));
            let own = me.and_then(|me| labels?.get(me));
            let (probs, classes) = match predictions.get(index).cloned().flatten() {
                Some(Prediction::Analysed { probs, classes, .. }) => (Some(probs), classes),
                _ => (None, Vec::new()),
            };
            let (trace_ccc, proxy_gap) = labels.map_or((None, None), |by| {
                let utterance = probs.as_deref().map(|p| (classes.as_slice(), p));
                review_figures(by, schemes, combine, utterance)
            });
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
                unlabelled: summary.as_ref().is_none_or(|s| s.class.is_none()),
                flagged: labels.is_some_and(|by| by.values().any(|l| !l.flags.is_empty())),
                trace_ccc,
                proxy_gap,
            }
        })
        .collect()
}
