//! The window's collection part: the open project and its recordings, their header checks (read
//! in the background), the selection, and the browser's view of them.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::annotation::{AnnotationError, AnnotationStore};
use crate::jobs::scan::{CheckDepth, check_files};
use crate::jobs::{Job, JobContext, JobPanicked, Notify, Progress};
use crate::project::recent::{RecentProjects, folder_is_writable};
use crate::project::{Collection, Project, ProjectError, Recording};

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

/// A project read in the background: its recordings listed, its journals replayed, its folder
/// probed for writing.
pub struct OpenedProject {
    pub project: Project,
    pub collection: Collection,
    pub annotations: Result<AnnotationStore, AnnotationError>,
    /// Labelled recordings the collection does not list.
    pub orphans: Vec<String>,
    pub read_only: bool,
}

/// Rows listed between two progress reports (a report per row would wake the window 100,000
/// times for a large collection); the browser receives them in batches of this size.
const ROWS_PER_REPORT: usize = 1024;

/// Rows listed by the opening job that the window has not taken yet.
type ArrivingRows = Arc<Mutex<Vec<Recording>>>;

/// Opens the project at `path` off the window's thread. Progress: rows listed so far (each batch
/// also handed to the window through `arriving`); once the listing is done the total is set to
/// the row count, and the journals are replayed.
fn open_project(
    path: &Path,
    arriving: &ArrivingRows,
    context: &JobContext,
) -> Result<OpenedProject, ProjectError> {
    let project = Project::open(path)?;
    let hand_over = |rows: &[Recording]| {
        arriving
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(rows);
        context.advance(rows.len() as u64);
    };
    let collection = Collection::load_as_listed(&project, &|listed| {
        if listed.len() % ROWS_PER_REPORT == 0 {
            hand_over(&listed[listed.len() - ROWS_PER_REPORT..]);
        }
    });
    let rows = collection.recordings.len();
    hand_over(&collection.recordings[rows - rows % ROWS_PER_REPORT..]);
    context.set_total(rows as u64);
    let annotations = AnnotationStore::load(&project.root);
    let orphans = annotations.as_ref().map_or_else(
        |_| Vec::new(),
        |store| store.orphans(collection.recordings.iter().map(|r| r.listed_path.as_str())),
    );
    let read_only = !folder_is_writable(&project.root);
    Ok(OpenedProject {
        project,
        collection,
        annotations,
        orphans,
        read_only,
    })
}

/// What the listing already knows of a recording's file before its header is read.
fn listing_check(recording: &Recording) -> HeaderCheck {
    recording.missing.then_some(Err(FileProblem::Missing))
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
    /// The project being opened, in the background.
    opening: Option<Job<Result<OpenedProject, ProjectError>>>,
    /// Rows of the project being opened, listed but not yet shown.
    arriving: ArrivingRows,
    /// The rows shown are those of the project being opened, arriving as they are listed (no
    /// project is open meanwhile: nothing can be selected or labelled until it has loaded).
    pub listing: bool,
    /// A recording to select once the project being opened has loaded (`--select`).
    pending_select: Option<String>,
}

impl CollectionState {
    /// Starts opening the project, folder or manifest at `path` in the background; the open one
    /// stays until the new one has loaded.
    pub fn start_opening(&mut self, path: &Path, notify: Option<Notify>) {
        let path = path.to_path_buf();
        self.arriving = ArrivingRows::default();
        let arriving = Arc::clone(&self.arriving);
        match Job::spawn("open-project", notify, move |context| {
            open_project(&path, &arriving, context)
        }) {
            Ok(job) => self.opening = Some(job),
            Err(error) => self.open_error = Some(error.into()),
        }
    }

    /// Shows the rows the opening project has listed since the last frame. Returns `true` when
    /// these are its first: the previous project's rows have just been replaced (its recording,
    /// labels and predictions are the caller's to close).
    pub fn take_arrived_rows(&mut self) -> bool {
        let rows =
            std::mem::take(&mut *self.arriving.lock().unwrap_or_else(PoisonError::into_inner));
        if rows.is_empty() {
            return false;
        }
        let first = !self.listing;
        if first {
            self.project = None;
            self.collection = Collection::default();
            self.checks.clear();
            self.check_job = None;
            self.selected = None;
            self.listing = true;
        }
        self.checks.extend(rows.iter().map(listing_check));
        self.collection.recordings.extend(rows);
        first
    }

    /// The project that finished opening, if one did this frame (a failure is kept to show).
    pub fn poll_opening(&mut self) -> Option<OpenedProject> {
        let result = self.opening.as_mut().and_then(Job::try_take)?;
        self.opening = None;
        self.listing = false;
        match result {
            Ok(Ok(opened)) => Some(opened),
            Ok(Err(error)) => {
                self.open_error = Some(error.into());
                None
            }
            Err(panicked) => {
                self.open_error = Some(panicked.into());
                None
            }
        }
    }

    /// Progress of the opening project: rows listed (`total` is 0 until the listing is done and
    /// the journals are being read).
    #[must_use]
    pub fn opening_progress(&self) -> Option<Progress> {
        self.opening.as_ref().map(Job::progress)
    }

    /// Selects `listed` once the project being opened has loaded; `false` when none is opening.
    pub fn select_when_opened(&mut self, listed: &str) -> bool {
        if self.opening.is_some() {
            self.pending_select = Some(listed.to_owned());
        }
        self.opening.is_some()
    }

    /// The recording to select now that the project has loaded, if one was asked for.
    pub fn take_pending_select(&mut self) -> Option<String> {
        self.pending_select.take()
    }

    /// Takes an opened project's recordings as the open ones and starts reading their headers.
    pub fn install(
        &mut self,
        project: Project,
        collection: Collection,
        orphans: Vec<String>,
        read_only: bool,
        notify: Option<Notify>,
    ) {
        self.collection = collection;
        self.orphans = orphans;
        self.read_only = read_only;
        if let Err(error) = self.recent.add(&project.root) {
            tracing::warn!("cannot save the recent-projects list: {error}");
        }
        self.project = Some(project);
        self.selected = None;
        self.open_error = None;
        self.listing = false;
        self.start_header_check(notify);
    }

    fn start_header_check(&mut self, notify: Option<Notify>) {
        let paths = self.collection.paths();
        self.checks = self
            .collection
            .recordings
            .iter()
            .map(listing_check)
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
        self.check_job.is_some() || self.opening.is_some()
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

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::path::PathBuf;

    use super::*;

    /// A project of `rows` listed (absent) recordings.
    fn manifest_project(dir: &Path, rows: usize) -> PathBuf {
        let mut manifest = String::from("path,speaker\n");
        for i in 0..rows {
            writeln!(manifest, "audio/{i:05}.wav,spk{}", i % 7).unwrap();
        }
        let path = dir.join("manifest.csv");
        std::fs::write(&path, manifest).unwrap();
        path
    }

    fn listed(recordings: &[Recording]) -> Vec<&str> {
        recordings.iter().map(|r| r.listed_path.as_str()).collect()
    }

    #[test]
    fn the_opening_job_hands_every_row_over_in_listing_order() {
        let dir = tempfile::tempdir().unwrap();
        let rows = 2 * ROWS_PER_REPORT + 5;
        let path = manifest_project(dir.path(), rows);
        let arriving = ArrivingRows::default();
        let context = JobContext::detached();
        let opened = open_project(&path, &arriving, &context).unwrap();
        let handed = arriving.lock().unwrap();
        assert_eq!(opened.collection.recordings.len(), rows);
        assert_eq!(listed(&handed), listed(&opened.collection.recordings));
    }

    #[test]
    fn arriving_rows_replace_the_previous_project_once_then_append() {
        let dir = tempfile::tempdir().unwrap();
        let old = Project::open(&manifest_project(dir.path(), 3)).unwrap();
        let mut state = CollectionState::default();
        let collection = Collection::load(&old);
        state.install(old, collection, Vec::new(), false, None);
        state.selected = Some(1);
        assert!(!state.take_arrived_rows(), "nothing arrived yet");

        let other = tempfile::tempdir().unwrap();
        let new = Collection::load(&Project::open(&manifest_project(other.path(), 5)).unwrap());
        let (first, rest) = new.recordings.split_at(2);
        state.arriving.lock().unwrap().extend_from_slice(first);
        assert!(
            state.take_arrived_rows(),
            "the first rows close the old project"
        );
        assert!(state.listing && state.project.is_none() && state.selected.is_none());
        assert_eq!(listed(&state.collection.recordings), listed(first));
        state.arriving.lock().unwrap().extend_from_slice(rest);
        assert!(!state.take_arrived_rows(), "later rows only append");
        assert_eq!(
            listed(&state.collection.recordings),
            listed(&new.recordings)
        );
        assert_eq!(state.checks.len(), 5);
    }
}
