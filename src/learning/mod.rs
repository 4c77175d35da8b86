//! Cooperative learning: a project's human labels back into its model. A retrain plans which
//! labels train and which are held out (`plan`), fine-tunes the model in the Python pipeline as a
//! subprocess with progress and cancel (`run`, `environment`), and stores the new model with its
//! card in the project's `models/` folder, where the project can switch to it and back
//! (`project_models`).

mod environment;
mod plan;
mod project_models;
mod run;

pub use environment::{TrainingEnvironment, training_folder};
pub use plan::{DEFAULT_GRADIENT_STEPS, MIN_PER_CLASS, RetrainPlan, RetrainRequest, plan_retrain};
pub use project_models::{
    Figures, FineTuneCard, LabelsUsed, ProjectModel, ProjectModelError, list_models, use_model,
};
pub use run::{FineTuned, retrain};

use std::path::PathBuf;

/// Why a retrain did not produce a model.
#[derive(Debug, thiserror::Error)]
pub enum RetrainError {
    #[error(
        "the fine-tuning environment is not installed ({} is missing); install it with: bash models/training/setup.sh",
        python.display()
    )]
    NoEnvironment { python: PathBuf },
    #[error(
        "too few labels to fine-tune on after holding out {held_out} recordings: label {} (at least {MIN_PER_CLASS} of each class)",
        short.iter().map(|(class, more)| format!("{more} more {class}")).collect::<Vec<_>>().join(", ")
    )]
    TooFewLabels {
        /// (class, how many more labels it needs).
        short: Vec<(String, usize)>,
        held_out: usize,
    },
    #[error(
        "nothing to hold out: the {labelled} labelled recordings are too few to score the new model on (label more, or more speakers)"
    )]
    NothingHeldOut { labelled: usize },
    #[error("cannot read the parent model: {0}")]
    Model(#[from] crate::model::ModelError),
    #[error("cannot read the labels: {0}")]
    Annotations(#[from] crate::annotation::AnnotationError),
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the fine-tuning stopped with {status}: {message}")]
    Failed { status: String, message: String },
    #[error("{}: the fine-tuning's report is unreadable: {error}", path.display())]
    Report {
        path: PathBuf,
        error: serde_json::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

impl RetrainError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |error| Self::Io { path, error }
    }
}

/// Everything a retrain does from a project on disk: its collection and journals read afresh
/// (they hold every saved edit), the parent's classes read from its card, the plan, the
/// fine-tuning, the new model stored.
///
/// # Errors
/// As [`plan_retrain`] and [`retrain`]; the parent model unreadable.
pub fn retrain_project(
    project: &crate::project::Project,
    parent: &std::path::Path,
    request: &RetrainRequest,
    environment: &TrainingEnvironment,
    context: &crate::jobs::JobContext,
) -> Result<FineTuned, RetrainError> {
    let classes =
        crate::model::MeritSession::load(parent, crate::model::SessionOptions::default())?
            .card()
            .classes
            .clone();
    let collection = crate::project::Collection::load(project);
    let store = crate::annotation::AnnotationStore::load(&project.root)?;
    let plan = plan_retrain(project, &collection, &store, &classes, request)?;
    retrain(project, parent, &plan, environment, context)
}
