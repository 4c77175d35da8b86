//! The studio window's state, split into owned parts, and its top-level layout. Panels draw from
//! a read-only [`StudioView`] and send [`Action`]s; `command_handling.rs` applies them once per
//! frame, after drawing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use crate::annotation::AnnotationStore;
use crate::jobs::{Job, Notify};
use crate::playback::Transport;
use crate::project::recent::RecentProjects;

use super::agreement::AgreementState;
use super::collection::CollectionState;
use super::commands::{self, Action, CommandSender};
use super::engine_state::EngineState;
use super::exporting::ExportState;
use super::labelling::Labelling;
use super::lane_layout::LaneLayout;
use super::panels::{self, LabelDrafts};
use super::player::{Playback, Player};
use super::recording::RecordingState;
use super::retraining::RetrainState;
use super::rows::RowSources;
use super::segments::SegmentCursor;
use super::trace_mode::{StickInput, Tracing};
use super::view::{StudioView, Windows, scheme_of};

/// What a file dialog (run on its own thread, as dialogs block) was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialog {
    OpenProject,
    ChooseModel,
    ExportFolder,
}

pub struct StudioApp {
    pub(super) collection: CollectionState,
    pub(super) recording: Option<RecordingState>,
    pub(super) engine: EngineState,
    pub(super) labelling: Labelling,
    pub(super) player: Player,
    pub(super) export: ExportState,
    pub(super) retrain: RetrainState,
    pub(super) agreement: AgreementState,
    pub(super) windows: Windows,
    /// The selected segment and boundary, a pending mark, auto-play.
    pub(super) segments: SegmentCursor,
    /// Lane heights, collapsed lanes, the label strip folded.
    pub(super) lanes: LaneLayout,
    pub(super) trace: Tracing,
    /// The label strip's fields while they are being edited (its own widget state).
    label_drafts: LabelDrafts,
    sender: CommandSender,
    actions: Receiver<Action>,
    pub(super) notify: Option<Notify>,
    pub(super) dialog: Option<(Dialog, Job<Option<PathBuf>>)>,
    /// Analyse each recording when it is opened (instant when cached).
    pub(super) auto_analyse: bool,
}

impl StudioApp {
    /// Opens a project, folder or manifest; headers are read in the background. Sound goes to
    /// `playback`; the model is the project's, else the shipped compact model.
    #[must_use]
    pub fn open(path: &Path, repaint: Option<egui::Context>, playback: Playback) -> Self {
        let notify = repaint
            .map(|ctx| Arc::new(move || ctx.request_repaint()) as Arc<dyn Fn() + Send + Sync>);
        let (sender, actions) = commands::action_queue();
        let mut app = Self {
            collection: CollectionState::default(),
            recording: None,
            engine: EngineState::new(notify.clone()),
            labelling: Labelling::default(),
            player: Player::new(playback),
            export: ExportState::default(),
            retrain: RetrainState::default(),
            agreement: AgreementState::default(),
            windows: Windows::default(),
            segments: SegmentCursor::default(),
            lanes: LaneLayout::default(),
            trace: Tracing::default(),
            label_drafts: LabelDrafts::default(),
            sender,
            actions,
            notify,
            dialog: None,
            auto_analyse: true,
        };
        app.open_path(path);
        app
    }

    /// Uses `model` instead of the project's or the shipped one.
    #[must_use]
    pub fn with_model(mut self, model: PathBuf) -> Self {
        self.engine.set_model(
            model,
            self.collection.project.as_ref(),
            &self.collection.collection,
        );
        self
    }

    /// Keeps the recent-projects list in `recent` (and adds the open project to it).
    #[must_use]
    pub fn with_recent(mut self, mut recent: RecentProjects) -> Self {
        if let Some(project) = &self.collection.project
            && let Err(error) = recent.add(&project.root)
        {
            tracing::warn!("cannot save the recent-projects list: {error}");
        }
        self.collection.recent = recent;
        self
    }

    /// Writes labels as `annotator` from the start.
    #[must_use]
    pub fn with_annotator(mut self, annotator: &str) -> Self {
        self.set_annotator(annotator);
        self
    }

    /// Keeps analyses in `folder` (`None`: no cache) instead of the user's cache folder.
    #[must_use]
    pub fn with_cache_dir(mut self, folder: Option<PathBuf>) -> Self {
        self.engine.set_cache_dir(
            folder,
            self.collection.project.as_ref(),
            &self.collection.collection,
        );
        self
    }

    /// Traces with `stick` (a gamepad, or a test's stand-in) instead of the mouse and keys.
    #[must_use]
    pub fn with_stick(mut self, stick: Box<dyn StickInput>) -> Self {
        self.trace.stick = Some(stick);
        self
    }

    /// Writes from now on as `name` (taking their journal's lock).
    pub fn set_annotator(&mut self, name: &str) {
        self.labelling.set_annotator(name);
    }

    /// Exports into a new folder (or file) inside `folder`, in the background (what the export
    /// window does once a folder is chosen).
    pub fn export_to(&mut self, folder: &Path) {
        if let Some(project) = &self.collection.project {
            let annotator = self.labelling.annotations.annotator();
            self.export
                .export_to(project, annotator, folder, self.notify.clone());
        }
    }

    /// Whether background work is still running (tests and screenshots wait on this).
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.collection.is_busy()
            || self.engine.is_busy()
            || self.export.job.is_some()
            || self.retrain.job.is_some()
            || self.agreement.is_busy()
            || self.recording.as_ref().is_some_and(RecordingState::is_busy)
    }

    /// Whether the open recording's waveform can be drawn (its signal is decoded).
    #[must_use]
    pub fn has_waveform(&self) -> bool {
        self.recording
            .as_ref()
            .is_some_and(|r| r.original.is_some())
    }

    /// The recording selected in the browser.
    #[must_use]
    pub fn selected(&self) -> Option<usize> {
        self.collection.selected
    }

    /// The open recording as the journals name it.
    #[must_use]
    pub fn current_file(&self) -> Option<&str> {
        self.collection.listed_path(self.recording.as_ref()?.index)
    }

    /// The playback transport (tests drive and read it).
    #[must_use]
    pub fn transport(&self) -> &Arc<Transport> {
        &self.player.transport
    }

    /// The annotation store (tests read what was written).
    #[must_use]
    pub fn annotations(&self) -> &AnnotationStore {
        &self.labelling.annotations
    }

    /// Draws the whole window into `ui` (also what UI tests drive): collects finished work,
    /// lets the panels draw and send actions, then applies the actions.
    pub fn studio_ui(&mut self, ui: &mut egui::Ui) {
        self.poll_jobs();
        let (schemes, combine) = self.trace_settings();
        self.collection.browser.refresh(&RowSources {
            collection: &self.collection.collection,
            checks: &self.collection.checks,
            annotations: &self.labelling.annotations,
            engine: &self.engine.engine,
            traces: (&schemes, combine),
        });
        let class_keys: Vec<_> = scheme_of(&self.collection)
            .classes
            .iter()
            .map(|c| c.hotkey.as_deref().and_then(commands::hotkey))
            .collect();
        for command in commands::pressed(ui.ctx(), &class_keys) {
            self.sender.send(command);
        }
        let dropped = ui.ctx().input(|i| {
            i.raw
                .dropped_files
                .first()
                .map(|file| file.path().to_path_buf())
        });
        if let Some(path) = dropped {
            self.sender.send(Action::OpenPath(path));
        }
        let view = StudioView {
            collection: &self.collection,
            recording: self.recording.as_ref(),
            engine: &self.engine,
            labelling: &self.labelling,
            player: &self.player,
            export: &self.export,
            retrain: &self.retrain,
            agreement: &self.agreement,
            windows: &self.windows,
            segments: &self.segments,
            lanes: &self.lanes,
            trace: &self.trace,
        };
        let sender = &self.sender;
        egui::Panel::top("header").show(ui, |ui| panels::header_ui(ui, &view, sender));
        egui::Panel::bottom("footer").show(ui, |ui| panels::footer_ui(ui, &view, sender));
        egui::Panel::left("browser")
            .resizable(true)
            .default_size(560.0)
            .show(ui, |ui| panels::browser_ui(ui, &view, sender));
        if self.windows.comments {
            egui::Panel::right("comments")
                .resizable(true)
                .default_size(260.0)
                .show(ui, |ui| panels::comments_ui(ui, &view, sender));
        }
        let drafts = &mut self.label_drafts;
        egui::CentralPanel::default()
            .show(ui, |ui| panels::recording_ui(ui, &view, drafts, sender));
        panels::palette_ui(ui.ctx(), &view, sender);
        panels::model_card_ui(ui.ctx(), &view, sender);
        panels::export_ui(ui.ctx(), &view, sender);
        panels::retrain_ui(ui.ctx(), &view, sender);
        panels::agreement_ui(ui.ctx(), &view, sender);
        let actions: Vec<Action> = self.actions.try_iter().collect();
        if !actions.is_empty() {
            // What the actions changed shows in the next frame.
            ui.ctx().request_repaint();
        }
        for action in actions {
            self.apply(action);
        }
        self.follow_segment_playback();
        self.poll_trace();
        if self.player.transport.is_playing() || self.trace.active.is_some() {
            if let Some(recording) = self.recording.as_mut() {
                recording
                    .timeline
                    .follow(self.player.transport.position_s());
            }
            ui.ctx().request_repaint();
        }
    }
}

impl eframe::App for StudioApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.studio_ui(ui);
    }
}
