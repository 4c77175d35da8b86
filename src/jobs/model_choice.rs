//! Which model a command or the window runs: one rule for all of them.

use std::path::{Path, PathBuf};

use crate::project::Project;

/// The project names a model file that is not there (a project copied elsewhere often loses its
/// relative model path).
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: the project's model {} is missing; pass --model, or fix \"model\" in project.json",
    project.display(),
    model.display()
)]
pub struct ProjectModelMissing {
    pub project: PathBuf,
    pub model: PathBuf,
}

/// The model asked for, else the project's, else the shipped compact model.
///
/// # Errors
/// [`ProjectModelMissing`] when the project's model file is gone: headless commands stop there
/// rather than analyse with another model than the project says; the window falls back to the
/// shipped model and says so.
pub fn choose_model(
    asked: Option<&Path>,
    project: Option<&Project>,
) -> Result<PathBuf, ProjectModelMissing> {
    if let Some(asked) = asked {
        return Ok(asked.to_path_buf());
    }
    match project.and_then(|p| Some((p, p.model_path()?))) {
        Some((_, model)) if model.is_file() => Ok(model),
        Some((project, model)) => Err(ProjectModelMissing {
            project: project.root.clone(),
            model,
        }),
        None => Ok(crate::model::shipped_model_path()),
    }
}
