//! Application state and the top-level layout of the studio window.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::jobs::Job;
use crate::jobs::scan::{CheckDepth, FileCheck, check_files};
use crate::model::runtime::{self, RuntimeLibrary};
use crate::project::{Collection, Project};

use super::panels;

/// Header check of one recording: pending, done, or the reason it is broken.
pub type HeaderCheck = Option<Result<FileCheck, String>>;

pub struct StudioApp {
    pub(super) project: Option<Project>,
    pub(super) collection: Collection,
    pub(super) open_error: Option<String>,
    pub(super) checks: Vec<HeaderCheck>,
    check_job: Option<Job<Vec<HeaderCheck>>>,
    pub(super) runtime: Result<RuntimeLibrary, String>,
    pub(super) selected: Option<usize>,
}

impl StudioApp {
    /// Opens a project, folder or manifest; headers are read in the background.
    #[must_use]
    pub fn open(path: &Path, repaint: Option<egui::Context>) -> Self {
        let mut app = Self {
            project: None,
            collection: Collection::default(),
            open_error: None,
            checks: Vec::new(),
            check_job: None,
            runtime: runtime::locate().map_err(|e| e.to_string()),
            selected: None,
        };
        match Project::open(path) {
            Ok(project) => {
                app.collection = Collection::load(&project);
                app.project = Some(project);
                app.start_header_check(repaint);
            }
            Err(error) => app.open_error = Some(error.to_string()),
        }
        app
    }

    fn start_header_check(&mut self, repaint: Option<egui::Context>) {
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
            .map(|r| r.missing.then(|| Err("file not found".to_owned())))
            .collect();
        let notify = repaint
            .map(|ctx| Arc::new(move || ctx.request_repaint()) as Arc<dyn Fn() + Send + Sync>);
        let job = Job::spawn("header-check", notify, move |context| {
            let threads = crate::jobs::available_cores();
            check_files(&paths, CheckDepth::Headers, threads, context)
                .into_iter()
                .map(|result| result.map(|r| r.map_err(|e| e.to_string())))
                .collect()
        });
        match job {
            Ok(job) => self.check_job = Some(job),
            Err(error) => self.open_error = Some(format!("cannot start the header check: {error}")),
        }
    }

    /// Collects finished background work; called once per frame.
    pub fn poll_jobs(&mut self) {
        let Some(job) = self.check_job.as_mut() else {
            return;
        };
        match job.try_take() {
            Some(Ok(results)) => {
                for (slot, result) in self.checks.iter_mut().zip(results) {
                    if slot.is_none() {
                        *slot = result;
                    }
                }
                self.check_job = None;
            }
            Some(Err(error)) => {
                self.open_error = Some(error.to_string());
                self.check_job = None;
            }
            None => {}
        }
    }

    /// Whether background work is still running (tests wait on this).
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.check_job.is_some()
    }

    /// The recording selected in the browser.
    #[must_use]
    pub fn selected(&self) -> Option<usize> {
        self.selected
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
        egui::Panel::top("header").show(ui, |ui| panels::header_ui(ui, self));
        egui::Panel::bottom("footer").show(ui, |ui| panels::footer_ui(ui, self));
        egui::CentralPanel::default().show(ui, |ui| panels::browser_ui(ui, self));
    }
}

impl eframe::App for StudioApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.studio_ui(ui);
    }
}
