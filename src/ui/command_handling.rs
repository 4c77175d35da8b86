//! The one place the window's state changes: actions from panels, keys, the palette and drops
//! are applied here once per frame, and finished background work is collected here.

use std::path::Path;

use crate::annotation::queue::review_order_by;
use crate::annotation::trace::PassState;
use crate::jobs::Job;
use crate::project::Collection;

use super::agreement::{AgreementAction, AgreementState};
use super::app::{Dialog, StudioApp};
use super::collection::{OpenError, OpenedProject};
use super::commands::{Action, Command};
use super::labelling::queue_items;
use super::recording::{Arrivals, RecordingState};
use super::retraining::RetrainAction;
use super::view::scheme_of;

impl StudioApp {
    /// Replaces the open project with the one at `path`, opened in the background (listing a
    /// large collection and replaying its journals takes seconds).
    pub fn open_path(&mut self, path: &Path) {
        self.collection.start_opening(path, self.notify.clone());
    }

    /// Takes a project that finished opening as the open one.
    fn install(&mut self, opened: OpenedProject) {
        let OpenedProject {
            project,
            collection,
            annotations,
            orphans,
            read_only,
        } = opened;
        self.recording = None;
        self.player.transport.set_playing(false);
        self.labelling.install(annotations);
        self.engine.restart(Some(&project), &collection);
        let paths = collection.paths();
        self.engine.engine.recall_cached(paths, self.notify.clone());
        self.collection
            .install(project, collection, orphans, read_only, self.notify.clone());
        // Start on the recording asked for, else the one last labelled, else the first.
        if let Some(listed) = self.collection.take_pending_select() {
            self.select_when_listed(&listed);
        } else {
            let last = self.labelling.last_worked_on().map(str::to_owned);
            let index = last.and_then(|listed| self.collection.find(&listed));
            self.select(index.unwrap_or(0));
        }
    }

    /// Closes the open recording, labels and predictions: the rows of a project being opened
    /// have replaced the previous project's in the browser.
    fn close_project(&mut self) {
        self.recording = None;
        self.player.transport.set_playing(false);
        self.labelling.close();
        self.agreement = AgreementState::default();
        self.engine.restart(None, &Collection::default());
    }

    /// Opens recording `index` in the view (not while a project is still being listed).
    pub fn select(&mut self, index: usize) {
        let recordings = self.collection.collection.recordings.len();
        if self.collection.selected == Some(index) || index >= recordings || self.collection.listing
        {
            return;
        }
        self.player.transport.set_playing(false);
        self.player.transport.set_stop_at_s(None);
        self.segments.reset();
        // A pass belongs to the recording it started on: it ends (kept) before another opens.
        self.trace.stop(
            &mut self.labelling.annotations,
            PassState::Incomplete,
            "another recording was opened",
        );
        self.collection.selected = Some(index);
        let path = self.collection.collection.recordings[index].path.clone();
        self.recording = Some(RecordingState::open(index, path, self.notify.clone()));
    }

    /// Selects the recording whose listed path (or file name) is `listed` (for `--select`), once
    /// the project being opened has loaded.
    pub fn select_when_listed(&mut self, listed: &str) {
        if self.collection.select_when_opened(listed) {
            return;
        }
        match self.collection.find(listed) {
            Some(index) => self.select(index),
            None => {
                self.collection.open_error = Some(OpenError::NotListed(listed.to_owned()));
            }
        }
    }

    /// Collects finished background work; called once per frame.
    pub fn poll_jobs(&mut self) {
        self.poll_dialog();
        self.export.poll();
        self.retrain.poll(self.collection.project.as_ref());
        self.agreement.poll();
        if self.collection.take_arrived_rows() {
            self.close_project();
        }
        if let Some(opened) = self.collection.poll_opening() {
            self.install(opened);
        }
        self.collection.poll();
        self.engine.poll_runtime();
        let mut arrivals = Arrivals::default();
        if let Some(recording) = self.recording.as_mut() {
            arrivals = recording.poll();
            if let Some(problem) = &recording.error {
                self.collection.mark_broken(recording.index, problem);
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
        if self.engine.deliver_to(self.recording.as_mut()) {
            self.attach_playback(true);
        }
    }

    fn attach_playback(&mut self, keep_position: bool) {
        if let Some(recording) = &self.recording {
            self.player.attach(recording, keep_position);
        }
    }

    /// Applies one action (the app calls this for every action sent during the frame).
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Command(command) => self.run(command),
            Action::Select(index) => self.select(index),
            Action::OpenPath(path) => self.open_path(&path),
            Action::SetAnnotator(name) => self.set_annotator(&name),
            Action::EditAnnotatorField(text) => self.labelling.annotator_input = text,
            Action::EditLabel(op) => {
                let file = self
                    .recording
                    .as_ref()
                    .and_then(|r| self.collection.listed_path(r.index));
                if let Some(file) = file {
                    let scheme = scheme_of(&self.collection);
                    self.labelling.edit(file, op, scheme);
                }
            }
            Action::Seek(t) => {
                if let Some(recording) = self.recording.as_mut() {
                    recording.selection = None;
                }
                self.player.transport.set_stop_at_s(None);
                self.segments.playing = None;
                self.player.transport.seek_s(t);
            }
            Action::EditSegment(edit) => self.edit_segment(&edit),
            Action::SelectSegment(id) => self.segments.selected = id,
            Action::SetLaneHeight(lane, height) => self.lanes.set_height(lane, height),
            Action::ToggleLane(lane) => self.lanes.toggle_collapsed(lane),
            Action::ToggleLabelFold => self.lanes.label_folded = !self.lanes.label_folded,
            Action::AddComment {
                text,
                segment,
                reply_to,
            } => self.add_comment(text, segment, reply_to),
            Action::SetSelection(a, b) => {
                if let Some(recording) = self.recording.as_mut() {
                    recording.selection = Some((a.min(b), a.max(b)));
                }
            }
            Action::Zoom { factor, anchor_s } => {
                if let Some(recording) = self.recording.as_mut() {
                    recording.timeline.zoom(factor, anchor_s);
                }
            }
            Action::Scroll(fraction) => {
                if let Some(recording) = self.recording.as_mut() {
                    recording.timeline.scroll(fraction);
                }
            }
            Action::SetBrowserView(view) => self.collection.browser.view = view,
            Action::SetPaletteQuery(query) => self.windows.palette = query,
            Action::ShowModelCard(shown) => self.windows.model_card = shown,
            Action::ShowExport(shown) => self.export.open = shown,
            Action::SetExportChoice { format, mine_only } => {
                self.export.format = format;
                self.export.mine_only = mine_only;
            }
            Action::Retrain(action) => self.apply_retrain(action),
            Action::Agreement(action) => self.apply_agreement(action),
            Action::TraceValue(value) => {
                if let Some(scheme) = self.trace.scheme(self.collection.project.as_ref()) {
                    self.trace.set_value(value, &scheme);
                }
            }
        }
    }

    /// Carries out one command of the table (from a key, a button or the palette).
    pub fn run(&mut self, command: Command) {
        // With a segment selected, the number keys and Delete act on it.
        let on_selected_segment = match command {
            Command::SetClass(index) => self.set_selected_segment_class(index),
            Command::RemoveSegment => self.remove_selected_segment(),
            _ => false,
        };
        if on_selected_segment {
            return;
        }
        let recordings = self.collection.collection.recordings.len();
        let playhead = self.player.transport.position_s();
        let scheme = scheme_of(&self.collection);
        let file = self
            .recording
            .as_ref()
            .and_then(|r| self.collection.listed_path(r.index));
        let transport = &self.player.transport;
        match command {
            Command::SetClass(index) => {
                if let Some(file) = file {
                    self.labelling.set_class(file, index, scheme);
                }
            }
            Command::AcceptModel => {
                if let Some(file) = file {
                    let analysis = self.recording.as_ref().and_then(|r| r.analysis.as_ref());
                    let top = analysis.map(|a| (a.result.top_class(), a.model_hash.clone()));
                    self.labelling.accept_model(file, top, scheme);
                }
            }
            Command::NextInQueue => self.next_in_queue(),
            Command::TracePass | Command::NextTraceDimension | Command::MarkFinalPass => {
                self.run_trace(command);
            }
            Command::Undo => self.labelling.undo_or_redo(false),
            Command::Redo => self.labelling.undo_or_redo(true),
            Command::AddSegment => {
                if let (Some(file), Some(recording)) = (file, self.recording.as_ref()) {
                    let duration_s = recording.timeline.duration_s;
                    let selection = recording.selection;
                    let id = self
                        .labelling
                        .add_segment(file, selection, duration_s, scheme);
                    if id.is_some() {
                        self.segments.selected = id;
                    }
                }
            }
            Command::RemoveSegment => {
                if let Some(file) = file {
                    self.labelling.remove_segment_at(file, playhead, scheme);
                }
            }
            Command::PlayPause => transport.toggle_playing(),
            Command::SwitchAb => transport.toggle_track(),
            Command::SwitchRnnoise => transport.toggle_rnnoise(),
            Command::ToggleLoop => self
                .player
                .toggle_loop(self.recording.as_ref().and_then(|r| r.selection)),
            Command::NextRecording if recordings > 0 => {
                let next = self
                    .collection
                    .selected
                    .map_or(0, |i| (i + 1).min(recordings - 1));
                self.select(next);
            }
            Command::PreviousRecording if recordings > 0 => {
                let previous = self.collection.selected.map_or(0, |i| i.saturating_sub(1));
                self.select(previous);
            }
            Command::NextRecording | Command::PreviousRecording => {}
            Command::ZoomIn | Command::ZoomOut => {
                if let Some(recording) = self.recording.as_mut() {
                    let factor = if command == Command::ZoomIn { 0.5 } else { 2.0 };
                    recording.zoom_at_playhead(factor, playhead);
                }
            }
            Command::ZoomToSelection => {
                if let Some(recording) = self.recording.as_mut()
                    && let Some((from, to)) = recording.selection
                {
                    recording.timeline.show(from, to);
                }
            }
            Command::Fit => {
                if let Some(recording) = self.recording.as_mut() {
                    recording.timeline.fit();
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
            Command::Slower => transport.step_speed(false),
            Command::Faster => transport.step_speed(true),
            Command::ToggleSpectrogram => {
                if let Some(recording) = self.recording.as_mut() {
                    recording.show_enhanced_spectrogram = !recording.show_enhanced_spectrogram;
                }
            }
            Command::AnalyseRecording => {
                if let Some(recording) = &self.recording
                    && self.engine.engine.analysing() != Some(recording.index)
                {
                    self.engine.engine.analyze_one(
                        recording.index,
                        recording.path.clone(),
                        recording
                            .original
                            .as_ref()
                            .map(|signal| signal.samples.clone()),
                        self.notify.clone(),
                    );
                }
            }
            Command::AnalyseCollection => {
                if self.engine.engine.collection_progress().is_none() {
                    let paths = self.collection.collection.paths();
                    self.engine.engine.analyze_all(paths, self.notify.clone());
                }
            }
            Command::CancelAnalysis => {
                // Escape closes the palette first, then forgets the segment selection.
                if self.windows.palette.take().is_none() && !self.segments.clear() {
                    self.engine.engine.cancel();
                }
            }
            Command::OpenProject => self.start_dialog(Dialog::OpenProject),
            Command::ChooseModel => self.start_dialog(Dialog::ChooseModel),
            Command::ShowModelCard => self.windows.model_card = !self.windows.model_card,
            Command::ExportLabels => self.export.open = !self.export.open,
            Command::Retrain => self.apply_retrain(RetrainAction::Show(!self.retrain.open)),
            Command::ShowAgreement => {
                self.apply_agreement(AgreementAction::Show(!self.agreement.open));
            }
            Command::ChooseExportFolder => self.start_dialog(Dialog::ExportFolder),
            Command::Segment(command) => self.run_segment(command),
            Command::ToggleComments => self.windows.comments = !self.windows.comments,
            Command::Palette => {
                self.windows.palette = match self.windows.palette {
                    Some(_) => None,
                    None => Some(String::new()),
                };
            }
        }
    }

    /// Opens the most worth-reviewing recording other than the open one.
    fn next_in_queue(&mut self) {
        let current = self.collection.selected;
        let (schemes, combine) = self.trace_settings();
        let items = queue_items(
            &self.collection.collection,
            &self.labelling.annotations,
            &self.engine.engine.predictions(),
            (&schemes, combine),
        );
        let next = review_order_by(&items, self.collection.browser.view.queue_order)
            .into_iter()
            .find(|&index| Some(index) != current);
        if let Some(index) = next {
            self.select(index);
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
                self.engine.set_model(
                    model,
                    self.collection.project.as_ref(),
                    &self.collection.collection,
                );
                self.run(Command::AnalyseRecording);
            }
            (Dialog::ExportFolder, Ok(Some(folder))) => self.export_to(&folder),
            (_, Ok(None)) => {}
            (_, Err(error)) => self.collection.open_error = Some(error.into()),
        }
    }
}
