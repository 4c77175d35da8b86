//! What panels read: shared references to the window's parts, never `&mut` (changes go through
//! the [`super::commands::CommandSender`]).

use crate::annotation::Label;
use crate::project::{LabelScheme, TraceScheme};

use super::agreement::AgreementState;
use super::collection::CollectionState;
use super::engine_state::EngineState;
use super::exporting::ExportState;
use super::labelling::Labelling;
use super::lane_layout::LaneLayout;
use super::player::Player;
use super::recording::RecordingState;
use super::retraining::RetrainState;
use super::segments::SegmentCursor;
use super::trace_mode::Tracing;

/// Which floating windows are open: the command palette (with its text) and the model card.
#[derive(Debug, Default)]
pub struct Windows {
    pub palette: Option<String>,
    pub model_card: bool,
    /// The comments side panel.
    pub comments: bool,
}

#[derive(Clone, Copy)]
pub struct StudioView<'a> {
    pub collection: &'a CollectionState,
    pub recording: Option<&'a RecordingState>,
    pub engine: &'a EngineState,
    pub labelling: &'a Labelling,
    pub player: &'a Player,
    pub export: &'a ExportState,
    pub retrain: &'a RetrainState,
    pub agreement: &'a AgreementState,
    pub windows: &'a Windows,
    pub segments: &'a SegmentCursor,
    pub lanes: &'a LaneLayout,
    pub trace: &'a Tracing,
}

impl<'a> StudioView<'a> {
    /// The project's label scheme (the model's four classes before a project is open).
    #[must_use]
    pub fn scheme(&self) -> &'a LabelScheme {
        scheme_of(self.collection)
    }

    /// The open recording as the journals name it.
    #[must_use]
    pub fn current_file(&self) -> Option<&'a str> {
        self.collection.listed_path(self.recording?.index)
    }

    /// The dimension trace mode traces (none before a project is open).
    #[must_use]
    pub fn trace_scheme(&self) -> Option<TraceScheme> {
        self.trace.scheme(self.collection.project.as_ref())
    }

    /// The current annotator's label of the open recording.
    #[must_use]
    pub fn current_label(&self) -> Option<&'a Label> {
        self.labelling.label_of(self.current_file()?)
    }
}

/// The label scheme of the open project, else Sparse MERIT's four classes.
#[must_use]
pub fn scheme_of(collection: &CollectionState) -> &LabelScheme {
    static DEFAULT: std::sync::LazyLock<LabelScheme> =
        std::sync::LazyLock::new(LabelScheme::sparse_merit);
    collection
        .project
        .as_ref()
        .map_or(&*DEFAULT, |p| &p.file.label_scheme)
}
