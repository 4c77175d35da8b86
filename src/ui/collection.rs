//! The window's collection part: the open project and its recordings, their header checks (read
//! in the background), the selection, and the browser's view of them.

use std::path::PathBuf;

use crate::annotation::AnnotationStore;
use crate::jobs::scan::{CheckDepth, check_files};
use crate::jobs::{Job, JobPanicked, Notify};
use crate::project::recent::{RecentProjects, folder_is_writable};
use crate::project::{Collection, Project, ProjectError};

use super::problems::{FileProblem, HeaderCheck};
use super::rows::Browser;

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

#[derive(Default)]
pub struct CollectionState {
    pub project: Option<Project>,
    pub collection: Collection,
    pub open_error: Option<OpenError>,
    pub checks: Vec<HeaderCheck>,
    check_job: Option<Job<Vec<HeaderCheck>>>,
    /// The recording selected in the browser (and open in the view).
    pub selected: Option<usize>,
    /// Labelled recordings the collection does not list (found when the project opens; edits in
    /// the window only touch listed recordings, so the list cannot change until the next open).
    pub orphans: Vec<String>,
    /// The project folder cannot be written (annotations and exports need another place).
    pub read_only: bool,
    pub recent: RecentProjects,
    pub browser: Browser,
}

impl CollectionState {
    /// Takes `project` as the open one: lists its recordings and starts reading their headers.
    pub fn set_project(
        &mut self,
        project: Project,
        annotations: &AnnotationStore,
        notify: Option<Notify>,
    ) {
        self.collection = Collection::load(&project);
        self.orphans = annotations.orphans(
            self.collection
                .recordings
                .iter()
                .map(|r| r.listed_path.as_str()),
        );
        self.read_only = !folder_is_writable(&project.root);
        if let Err(error) = self.recent.add(&project.root) {
            tracing::warn!("cannot save the recent-projects list: {error}");
        }
        self.project = Some(project);
        self.selected = None;
        self.open_error = None;
        self.start_header_check(notify);
    }

    fn start_header_check(&mut self, notify: Option<Notify>) {
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
        let job = Job::spawn("header-check", notify, move |context| {
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

    /// Takes finished header checks (a problem found by decoding stays).
    pub fn poll(&mut self) {
        let Some(result) = self.check_job.as_mut().and_then(Job::try_take) else {
            return;
        };
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

    /// Marks recording `index` broken for `problem` (found when it was decoded).
    pub fn mark_broken(&mut self, index: usize, problem: &FileProblem) {
        if let Some(slot) = self.checks.get_mut(index)
            && !matches!(slot, Some(Err(_)))
        {
            *slot = Some(Err(problem.clone()));
        }
    }

    /// Progress of the header check as (done, total), while it runs.
    #[must_use]
    pub fn check_progress(&self) -> Option<(u64, u64)> {
        self.check_job.as_ref().map(|job| {
            let progress = job.progress();
            (progress.done, progress.total)
        })
    }

    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.check_job.is_some()
    }

    /// The index of the recording whose listed path (or file name) is `listed`.
    #[must_use]
    pub fn find(&self, listed: &str) -> Option<usize> {
        self.collection
            .recordings
            .iter()
            .position(|r| r.listed_path == listed || r.path.ends_with(listed))
    }

    /// The recording `index` as the journals name it (its path as the project lists it).
    #[must_use]
    pub fn listed_path(&self, index: usize) -> Option<&str> {
        self.collection
            .recordings
            .get(index)
            .map(|r| r.listed_path.as_str())
    }
}
