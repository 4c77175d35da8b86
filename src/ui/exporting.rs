//! Exports from the window: the format and whose labels, a folder from a dialog, and the export
//! itself as a background job (it re-reads the journals, which hold every saved edit).

use std::path::{Path, PathBuf};

use crate::annotation::{AnnotationError, AnnotationStore};
use crate::export::{ExportError, ExportOptions, Format, Selection, export, provenance, rows};
use crate::jobs::{Job, JobPanicked, Notify};
use crate::project::{Collection, Project};

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

impl ExportState {
    /// Exports `project` into a new folder (or file) inside `folder`, in the background: the
    /// consensus, or `annotator`'s labels when only theirs are asked for.
    pub fn export_to(
        &mut self,
        project: &Project,
        annotator: Option<&str>,
        folder: &Path,
        notify: Option<Notify>,
    ) {
        let selection = match (self.mine_only, annotator) {
            (true, Some(me)) => Selection::Annotator(me.to_owned()),
            _ => Selection::Consensus,
        };
        let format = self.format;
        let out = target(folder, &project.file.name, format);
        let project = project.clone();
        let job = Job::spawn("export", notify, move |_| {
            run_export(&project, format, &selection, &out)
        });
        match job {
            Ok(job) => self.job = Some(job),
            Err(error) => self.message = Some(Err(error.into())),
        }
    }

    /// Takes the finished export's outcome.
    pub fn poll(&mut self) {
        if let Some(result) = self.job.as_mut().and_then(Job::try_take) {
            self.job = None;
            self.message = Some(result.unwrap_or_else(|e| Err(e.into())));
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
