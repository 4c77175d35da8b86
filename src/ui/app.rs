//! Application state and the top-level layout of the studio window.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::annotation::AnnotationStore;
use crate::jobs::model_choice::choose_model;
use crate::jobs::scan::{CheckDepth, FileCheck, check_files};
use crate::jobs::{Job, JobPanicked, Notify};
use crate::model::runtime::{self, RuntimeError, RuntimeLibrary};
use crate::playback::{AudioSink, PlaybackSource, Tracks, Transport};
use crate::project::recent::{RecentProjects, folder_is_writable};
use crate::project::{Collection, Project, ProjectError};

use super::commands::{self, Command};
use super::engine::Engine;
use super::labelling::LabelError;
use super::panels;
use super::recording::{FileProblem, RecordingState};

/// Header check of one recording: pending, done, or the reason it is broken.
pub type HeaderCheck = Option<Result<FileCheck, FileProblem>>;

/// Why a project (or a recording named on the command line) did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error("cannot start a background job: {0}")]
    Spawn(#[from] std::io::Error),
    #[error(transparent)]
    Panicked(#[from] JobPanicked),
    #[error("no recording {0} in this collection")]
    NotListed(String),
}

/// What a file dialog (run on its own thread, as dialogs block) was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialog {
    OpenProject,
    ChooseModel,
    ExportFolder,
}

/// Where the studio plays sound: the sound card, a test's sink, or nowhere (with the reason).
pub enum Playback {
    Sink(Box<dyn AudioSink>),
    Unavailable(String),
}

pub struct StudioApp {
    pub(super) project: Option<Project>,
    pub(super) collection: Collection,
    pub(super) open_error: Option<OpenError>,
    pub(super) checks: Vec<HeaderCheck>,
    check_job: Option<Job<Vec<HeaderCheck>>>,
    pub(super) runtime: Result<RuntimeLibrary, RuntimeError>,
    pub(super) selected: Option<usize>,
    pub(super) recording: Option<RecordingState>,
    pub(super) engine: Engine,
    pub(super) transport: Arc<Transport>,
    pub(super) playback: Playback,
    pub(super) palette: Option<String>,
    pub(super) show_model_card: bool,
    pub(super) browser: panels::BrowserView,
    /// The browser's rows in order, with what they were computed from.
    pub(super) browser_rows: Option<(panels::BrowserKey, Vec<usize>)>,
    pub(super) recent: RecentProjects,
    pub(super) annotations: AnnotationStore,
    /// Why the last label edit was refused (shown until the next one succeeds).
    pub(super) annotation_error: Option<LabelError>,
    /// Labelled recordings the collection does not list (found when the project opens; edits in
    /// the window only touch listed recordings, so the list cannot change until the next open).
    pub(super) orphans: Vec<String>,
    /// The annotator name field in the header.
    pub(super) annotator_input: String,
    pub(super) label_drafts: panels::LabelDrafts,
    pub(super) export: super::exporting::ExportState,
    /// The project folder cannot be written (annotations and exports need another place).
    pub(super) read_only: bool,
    pub(super) notify: Option<Notify>,
    /// The model chosen on the command line or in the window, over the project's.
    model_override: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    dialog: Option<(Dialog, Job<Option<PathBuf>>)>,
    /// Analyse each recording when it is opened (instant when cached).
    auto_analyse: bool,
}

impl StudioApp {
    /// Opens a project, folder or manifest; headers are read in the background. Sound goes to
    /// `playback`; the model is the project's, else the shipped compact model.
    #[must_use]
    pub fn open(path: &Path, repaint: Option<egui::Context>, playback: Playback) -> Self {
        let notify = repaint
            .map(|ctx| Arc::new(move || ctx.request_repaint()) as Arc<dyn Fn() + Send + Sync>);
        let mut app = Self {
            project: None,
            collection: Collection::default(),
            open_error: None,
            checks: Vec::new(),
            check_job: None,
            runtime: runtime::locate(),
            selected: None,
            recording: None,
            engine: Engine::new(
                crate::model::shipped_model_path(),
                0,
                Engine::default_cache(),
            ),
            transport: Arc::new(Transport::default()),
            playback,
            palette: None,
            show_model_card: false,
            browser: panels::BrowserView::default(),
            browser_rows: None,
            recent: RecentProjects::default(),
            annotations: AnnotationStore::default(),
            annotation_error: None,
            orphans: Vec::new(),
            annotator_input: String::new(),
            label_drafts: panels::LabelDrafts::default(),
            export: super::exporting::ExportState::default(),
            read_only: false,
            notify,
            model_override: None,
            cache_dir: Engine::default_cache(),
            dialog: None,
            auto_analyse: true,
        };
        app.open_path(path);
        app
    }

    /// Uses `model` instead of the project's or the shipped one.
    #[must_use]
    pub fn with_model(mut self, model: PathBuf) -> Self {
        self.model_override = Some(model);
        self.engine = self.new_engine();
        self
    }

    /// Keeps the recent-projects list in `recent` (and adds the open project to it).
    #[must_use]
    pub fn with_recent(mut self, mut recent: RecentProjects) -> Self {
        if let Some(project) = &self.project
            && let Err(error) = recent.add(&project.root)
        {
            tracing::warn!("cannot save the recent-projects list: {error}");
        }
        self.recent = recent;
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
        self.cache_dir = folder;
        self.engine = self.new_engine();
        self
    }

    fn new_engine(&self) -> Engine {
        let model = choose_model(self.model_override.as_deref(), self.project.as_ref())
            .unwrap_or_else(|missing| {
                tracing::warn!("{missing}; using the shipped model");
                crate::model::shipped_model_path()
            });
        Engine::new(
            model,
            self.collection.recordings.len(),
            self.cache_dir.clone(),
        )
    }

    /// Replaces the open project with the one at `path`.
    pub fn open_path(&mut self, path: &Path) {
        self.recording = None;
        self.selected = None;
        self.transport.set_playing(false);
        match Project::open(path) {
            Ok(project) => {
                self.collection = Collection::load(&project);
                let annotator = self.annotations.annotator().map(str::to_owned);
                match AnnotationStore::load(&project.root) {
                    Ok(store) => self.annotations = store,
                    Err(error) => {
                        self.annotations = AnnotationStore::default();
                        self.annotation_error = Some(LabelError::NotLoaded(error));
                    }
                }
                for warning in self.annotations.warnings() {
                    tracing::warn!("{warning}");
                }
                self.orphans = self.annotations.orphans(
                    self.collection
                        .recordings
                        .iter()
                        .map(|r| r.listed_path.as_str()),
                );
                if let Some(annotator) = annotator {
                    self.set_annotator(&annotator);
                }
                self.read_only = !folder_is_writable(&project.root);
                if let Err(error) = self.recent.add(&project.root) {
                    tracing::warn!("cannot save the recent-projects list: {error}");
                }
                self.project = Some(project);
                self.engine = self.new_engine();
                self.open_error = None;
                self.start_header_check();
            }
            Err(error) => self.open_error = Some(error.into()),
        }
    }

    fn start_header_check(&mut self) {
        let paths: Vec<PathBuf> = self
            .collection
            .recordings
            .iter()
            .map(|r| r.path.clone())
            .collect();
        self.checks = self
            .collection
            .recordings
            .iter()
            .map(|r| r.missing.then_some(Err(FileProblem::Missing)))
            .collect();
        let job = Job::spawn("header-check", self.notify.clone(), move |context| {
            let threads = crate::jobs::available_cores();
            check_files(&paths, CheckDepth::Headers, threads, context)
                .into_iter()
                .map(|result| result.map(|r| r.map_err(FileProblem::from)))
                .collect()
        });
        match job {
            Ok(job) => self.check_job = Some(job),
            Err(error) => self.open_error = Some(error.into()),
        }
    }

    /// Opens recording `index` in the view.
    pub fn select(&mut self, index: usize) {
        if self.selected == Some(index) || index >= self.collection.recordings.len() {
            return;
        }
        self.transport.set_playing(false);
        self.selected = Some(index);
        let path = self.collection.recordings[index].path.clone();
        self.recording = Some(RecordingState::open(index, path, self.notify.clone()));
    }

    /// Collects finished background work; called once per frame.
    pub fn poll_jobs(&mut self) {
        self.poll_dialog();
        self.poll_export();
        if let Some(job) = self.check_job.as_mut()
            && let Some(result) = job.try_take()
        {
            match result {
                Ok(results) => {
                    for (slot, result) in self.checks.iter_mut().zip(results) {
                        if slot.is_none() {
                            *slot = result;
                        }
                    }
                }
                Err(error) => self.open_error = Some(error.into()),
            }
            self.check_job = None;
        }
        let mut arrivals = super::recording::Arrivals::default();
        if let Some(recording) = self.recording.as_mut() {
            arrivals = recording.poll();
            if let Some(error) = &recording.error
                && let Some(slot) = self.checks.get_mut(recording.index)
                && !matches!(slot, Some(Err(_)))
            {
                *slot = Some(Err(error.clone()));
            }
        }
        if arrivals.decoded {
            self.attach_playback(false);
            if self.auto_analyse {
                self.run(Command::AnalyseRecording);
            }
        } else if arrivals.rnnoise {
            self.attach_playback(true);
        }
        if let Some((index, result)) = self.engine.poll()
            && let Some(recording) = self.recording.as_mut()
            && recording.index == index
        {
            match result {
                Ok(analysis) => {
                    recording.set_analysis(analysis);
                    self.attach_playback(true);
                }
                Err(error) if error.is_cancelled() => {
                    tracing::info!("analysis of {} cancelled", recording.path.display());
                }
                Err(error) => {
                    tracing::warn!("analysis failed: {error}");
                    recording.analysis_error = Some(error);
                }
            }
        }
    }

    /// Hands the open recording's tracks to the audio sink (keeping the position when only the
    /// enhanced track is new).
    fn attach_playback(&mut self, keep_position: bool) {
        let Some(recording) = &self.recording else {
            return;
        };
        let Some(original) = &recording.original else {
            return;
        };
        let position = self.transport.position_samples();
        let source = PlaybackSource::new(
            Tracks {
                original: original.samples.clone(),
                enhanced: recording
                    .analysis
                    .as_ref()
                    .map(|a| a.enhanced.samples.clone()),
                rnnoise: recording.rnnoise.clone(),
            },
            self.transport.clone(),
        );
        if keep_position {
            self.transport.seek_samples(position);
        }
        if let Playback::Sink(sink) = &mut self.playback {
            sink.play(source);
        }
    }

    /// Carries out one command (from a key, a button or the palette).
    pub fn run(&mut self, command: Command) {
        let recordings = self.collection.recordings.len();
        let playhead = self.transport.position_s();
        match command {
            Command::SetClass(index) => self.set_class(index),
            Command::AcceptModel => self.accept_model(),
            Command::NextInQueue => self.next_in_queue(),
            Command::Undo => self.undo_or_redo(false),
            Command::Redo => self.undo_or_redo(true),
            Command::AddSegment => self.add_segment(),
            Command::RemoveSegment => self.remove_segment_at_playhead(),
            Command::PlayPause => self.transport.toggle_playing(),
            Command::SwitchAb => self.transport.toggle_track(),
            Command::SwitchRnnoise => self.transport.toggle_rnnoise(),
            Command::ToggleLoop => {
                let selection = self.recording.as_ref().and_then(|r| r.selection);
                if self.transport.loop_range().is_some() || selection.is_none() {
                    self.transport.set_loop_s(None);
                } else {
                    self.transport.set_loop_s(selection);
                    if let Some((start, _)) = selection {
                        self.transport.seek_s(start);
                    }
                }
            }
            Command::NextRecording if recordings > 0 => {
                self.select(self.selected.map_or(0, |i| (i + 1).min(recordings - 1)));
            }
            Command::PreviousRecording if recordings > 0 => {
                self.select(self.selected.map_or(0, |i| i.saturating_sub(1)));
            }
            Command::NextRecording | Command::PreviousRecording => {}
            Command::ZoomIn | Command::ZoomOut | Command::ZoomToSelection | Command::Fit => {
                if let Some(recording) = self.recording.as_mut() {
                    let timeline = &mut recording.timeline;
                    let anchor = if (timeline.start_s..=timeline.end_s()).contains(&playhead) {
                        playhead
                    } else {
                        timeline.start_s + timeline.span_s / 2.0
                    };
                    match command {
                        Command::ZoomIn => timeline.zoom(0.5, anchor),
                        Command::ZoomOut => timeline.zoom(2.0, anchor),
                        Command::ZoomToSelection => {
                            if let Some((from, to)) = recording.selection {
                                timeline.show(from, to);
                            }
                        }
                        _ => timeline.fit(),
                    }
                }
            }
            Command::ScrollBack | Command::ScrollForward => {
                if let Some(recording) = self.recording.as_mut() {
                    let step = if command == Command::ScrollBack {
                        -0.25
                    } else {
                        0.25
                    };
                    recording.timeline.scroll(step);
                }
            }
            Command::Slower => self.transport.step_speed(false),
            Command::Faster => self.transport.step_speed(true),
            Command::ToggleSpectrogram => {
                if let Some(recording) = self.recording.as_mut() {
                    recording.show_enhanced_spectrogram = !recording.show_enhanced_spectrogram;
                }
            }
            Command::AnalyseRecording => {
                if let Some(recording) = &self.recording
                    && self.engine.analysing() != Some(recording.index)
                {
                    self.engine.analyze_one(
                        recording.index,
                        recording.path.clone(),
                        self.notify.clone(),
                    );
                }
            }
            Command::AnalyseCollection => {
                if self.engine.collection_progress().is_none() {
                    let paths = self
                        .collection
                        .recordings
                        .iter()
                        .map(|r| r.path.clone())
                        .collect();
                    self.engine.analyze_all(paths, self.notify.clone());
                }
            }
            Command::CancelAnalysis => {
                if self.palette.take().is_none() {
                    self.engine.cancel();
                }
            }
            Command::OpenProject => self.start_dialog(Dialog::OpenProject),
            Command::ChooseModel => self.start_dialog(Dialog::ChooseModel),
            Command::ShowModelCard => self.show_model_card = !self.show_model_card,
            Command::ExportLabels => self.export.open = !self.export.open,
            Command::ChooseExportFolder => self.start_dialog(Dialog::ExportFolder),
            Command::Palette => {
                self.palette = if self.palette.is_some() {
                    None
                } else {
                    Some(String::new())
                };
            }
        }
    }

    fn start_dialog(&mut self, dialog: Dialog) {
        if self.dialog.is_some() {
            return;
        }
        let job = Job::spawn("file-dialog", self.notify.clone(), move |_| match dialog {
            // A folder is a project or a plain audio folder; project.json and manifests are files.
            Dialog::OpenProject => rfd::FileDialog::new()
                .set_title("Open a project or audio folder")
                .pick_folder(),
            Dialog::ChooseModel => rfd::FileDialog::new()
                .set_title("Choose a Sparse MERIT model")
                .add_filter("ONNX model", &["onnx"])
                .pick_file(),
            Dialog::ExportFolder => rfd::FileDialog::new()
                .set_title("Export into this folder")
                .pick_folder(),
        });
        if let Ok(job) = job {
            self.dialog = Some((dialog, job));
        }
    }

    fn poll_dialog(&mut self) {
        let Some((dialog, job)) = self.dialog.as_mut() else {
            return;
        };
        let dialog = *dialog;
        let Some(result) = job.try_take() else {
            return;
        };
        self.dialog = None;
        match (dialog, result) {
            (Dialog::OpenProject, Ok(Some(path))) => self.open_path(&path),
            (Dialog::ChooseModel, Ok(Some(model))) => {
                self.model_override = Some(model);
                self.engine = self.new_engine();
                self.run(Command::AnalyseRecording);
            }
            (Dialog::ExportFolder, Ok(Some(folder))) => self.export_to(&folder),
            (_, Ok(None)) => {}
            (_, Err(error)) => self.open_error = Some(error.into()),
        }
    }

    /// Whether background work is still running (tests and screenshots wait on this).
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.check_job.is_some()
            || self.engine.is_busy()
            || self.export.job.is_some()
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
        self.selected
    }

    /// The playback transport (tests drive and read it).
    #[must_use]
    pub fn transport(&self) -> &Arc<Transport> {
        &self.transport
    }

    /// Selects the recording whose listed path (or file name) is `listed` (for `--select`).
    pub fn select_when_listed(&mut self, listed: &str) {
        let found = self
            .collection
            .recordings
            .iter()
            .position(|r| r.listed_path == listed || r.path.ends_with(listed));
        match found {
            Some(index) => self.select(index),
            None => self.open_error = Some(OpenError::NotListed(listed.to_owned())),
        }
    }

    /// Progress of the header check as (done, total), while it runs.
    pub(super) fn check_progress(&self) -> Option<(u64, u64)> {
        self.check_job.as_ref().map(|job| {
            let progress = job.progress();
            (progress.done, progress.total)
        })
    }

    /// Draws the whole window into `ui` (also what UI tests drive).
    pub fn studio_ui(&mut self, ui: &mut egui::Ui) {
        self.poll_jobs();
        let class_keys: Vec<_> = self
            .scheme()
            .classes
            .iter()
            .map(|c| c.hotkey.as_deref().and_then(commands::hotkey))
            .collect();
        for command in commands::pressed(ui.ctx(), &class_keys) {
            self.run(command);
        }
        if let Some(dropped) = ui.ctx().input(|i| {
            i.raw
                .dropped_files
                .first()
                .map(|file| file.path().to_path_buf())
        }) {
            self.open_path(&dropped);
        }
        egui::Panel::top("header").show(ui, |ui| panels::header_ui(ui, self));
        egui::Panel::bottom("footer").show(ui, |ui| panels::footer_ui(ui, self));
        egui::Panel::left("browser")
            .resizable(true)
            .default_size(540.0)
            .show(ui, |ui| panels::browser_ui(ui, self));
        egui::CentralPanel::default().show(ui, |ui| panels::recording_ui(ui, self));
        panels::palette_ui(ui.ctx(), self);
        panels::model_card_ui(ui.ctx(), self);
        panels::export_ui(ui.ctx(), self);
        if self.transport.is_playing() {
            if let Some(recording) = self.recording.as_mut() {
                recording.timeline.follow(self.transport.position_s());
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
