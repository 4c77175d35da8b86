//! Exports from the window: the format and whose labels, a folder from a dialog, and the export
//! itself as a background job (it re-reads the journals, which hold every saved edit).

use std::path::{Path, PathBuf};

use crate::annotation::{AnnotationError, AnnotationStore};
use crate::export::{ExportError, ExportOptions, Format, Selection, export, provenance, rows};
use crate::jobs::{Job, JobPanicked};
use crate::project::{Collection, Project};

use super::app::StudioApp;

/// Why an export from the window did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ExportJobError {
    #[error("annotations not loaded: {0}")]
    Annotations(#[from] AnnotationError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("cannot start the export: {0}")]
    Spawn(#[from] std::io::Error),
    #[error(transparent)]
    Panicked(#[from] JobPanicked),
}

/// The export window's choices and the running export.
pub struct ExportState {
    pub open: bool,
    pub format: Format,
    /// Only the current annotator's labels (else the consensus).
    pub mine_only: bool,
    pub job: Option<Job<Result<String, ExportJobError>>>,
    pub message: Option<Result<String, ExportJobError>>,
}

impl Default for ExportState {
    fn default() -> Self {
        Self {
            open: false,
            format: Format::Msp,
            mine_only: false,
            job: None,
            message: None,
        }
    }
}

/// Where an export goes inside the chosen folder: a new folder (or file) named after the project
/// and format, so nothing already there is touched.
fn target(folder: &Path, project: &str, format: Format) -> PathBuf {
    let stem: String = project
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let name = format!("{stem}-{format:?}").to_lowercase();
    let mut candidate = folder.join(&name);
    let mut n = 2;
    while candidate.exists() || candidate.with_extension("jsonl").exists() {
        candidate = folder.join(format!("{name}-{n}"));
        n += 1;
    }
    if format == Format::Jsonl {
        candidate.set_extension("jsonl");
    }
    candidate
}

impl StudioApp {
    /// Exports into a new folder (or file) inside `folder`, in the background (what the export
    /// window does once a folder is chosen).
    pub fn export_to(&mut self, folder: &Path) {
        let Some(project) = self.project.clone() else {
            return;
        };
        let selection = match (self.export.mine_only, self.annotations.annotator()) {
            (true, Some(me)) => Selection::Annotator(me.to_owned()),
            _ => Selection::Consensus,
        };
        let format = self.export.format;
        let out = target(folder, &project.file.name, format);
        let job = Job::spawn("export", self.notify.clone(), move |_| {
            run_export(&project, format, &selection, &out)
        });
        match job {
            Ok(job) => self.export.job = Some(job),
            Err(error) => self.export.message = Some(Err(error.into())),
        }
    }

    pub(super) fn poll_export(&mut self) {
        if let Some(job) = self.export.job.as_mut()
            && let Some(result) = job.try_take()
        {
            self.export.job = None;
            self.export.message = Some(result.unwrap_or_else(|e| Err(e.into())));
        }
    }
}

fn run_export(
    project: &Project,
    format: Format,
    selection: &Selection,
    out: &Path,
) -> Result<String, ExportJobError> {
    let collection = Collection::load(project);
    let store = AnnotationStore::load(&project.root)?;
    let options = ExportOptions {
        format: Some(format),
        selection: selection.clone(),
        ..ExportOptions::default()
    };
    let rows = rows(&collection, &store, &options);
    let record = provenance(project, &rows, format, selection, None);
    export(project, &rows, &options, out, &record)?;
    Ok(format!(
        "exported {} recordings to {}",
        rows.len(),
        out.display()
    ))
}
