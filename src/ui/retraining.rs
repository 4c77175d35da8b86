//! The retrain part: what to learn from (whose labels, accepted predictions too, steps), the
//! retrain as a background job, its outcome, the project's models, a switch to a model that scores
//! below its parent waiting for confirmation, and after a switch the previous model's predictions
//! (so the browser can show which recordings changed).

use std::path::PathBuf;
use std::sync::Arc;

use crate::export::Selection;
use crate::jobs::{Job, JobPanicked, Notify};
use crate::learning::{
    FineTuned, ProjectModel, RetrainError, RetrainRequest, TrainingEnvironment, list_models,
    retrain_project,
};
use crate::project::Project;

use super::prediction::Prediction;

/// What the retrain window asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum RetrainAction {
    Show(bool),
    SetChoice {
        mine_only: bool,
        include_accepted: bool,
        /// `None`: the closed-form refit; `Some(n)`: n gradient steps (`RetrainRequest::steps`).
        steps: Option<u32>,
    },
    Start,
    Cancel,
    /// Make this model the project's (`None`: the shipped one); `confirmed` answers the question
    /// asked before switching to a model that scores below its parent.
    Use {
        model: Option<PathBuf>,
        confirmed: bool,
    },
    /// Answer "no" to that question.
    KeepCurrent,
}

/// Why a retrain from the window did not give a model.
#[derive(Debug, thiserror::Error)]
pub enum RetrainJobError {
    #[error("open a project first: the labels come from its journals")]
    NoProject,
    #[error(transparent)]
    Retrain(#[from] RetrainError),
    #[error("cannot start the retrain: {0}")]
    Spawn(#[from] std::io::Error),
    #[error(transparent)]
    Panicked(#[from] JobPanicked),
}

impl RetrainJobError {
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Retrain(RetrainError::Cancelled))
    }
}

/// The previous model's predictions, kept when the project switched models.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The model switched away from (its file name).
    pub previous_model: String,
    pub predictions: Vec<Option<Prediction>>,
}

impl Comparison {
    /// The previous model's class for recording `index` when it differs from `now`'s.
    #[must_use]
    pub fn changed(&self, index: usize, now: Option<&Prediction>) -> Option<&str> {
        match (self.predictions.get(index)?.as_ref()?, now?) {
            (
                Prediction::Analysed { class: before, .. },
                Prediction::Analysed { class: after, .. },
            ) if before != after => Some(before),
            _ => None,
        }
    }

    /// How many of `now`'s predictions differ from the previous model's, of how many both made.
    #[must_use]
    pub fn count_changed(&self, now: &[Option<Prediction>]) -> (usize, usize) {
        let both = (0..now.len())
            .filter(|&i| {
                matches!(now[i], Some(Prediction::Analysed { .. }))
                    && matches!(
                        self.predictions.get(i),
                        Some(Some(Prediction::Analysed { .. }))
                    )
            })
            .count();
        let changed = (0..now.len())
            .filter(|&i| self.changed(i, now[i].as_ref()).is_some())
            .count();
        (changed, both)
    }
}

pub struct RetrainState {
    pub open: bool,
    /// Only the current annotator's labels (else the consensus).
    pub mine_only: bool,
    pub include_accepted: bool,
    pub steps: Option<u32>,
    pub job: Option<Job<Result<FineTuned, RetrainJobError>>>,
    /// The last retrain's outcome.
    pub outcome: Option<Result<FineTuned, Arc<RetrainJobError>>>,
    /// The project's own models (read when the window opens and after a retrain).
    pub models: Vec<ProjectModel>,
    /// A switch to this model (scoring below its parent) waits for "use it anyway".
    pub confirm: Option<PathBuf>,
    pub switch_error: Option<String>,
    pub comparison: Option<Comparison>,
}

impl Default for RetrainState {
    fn default() -> Self {
        Self {
            open: false,
            mine_only: false,
            include_accepted: false,
            steps: RetrainRequest::default().steps,
            job: None,
            outcome: None,
            models: Vec::new(),
            confirm: None,
            switch_error: None,
            comparison: None,
        }
    }
}

impl RetrainState {
    /// Fine-tunes `parent` on `project`'s labels in the background (the consensus, or
    /// `annotator`'s when only theirs are asked for).
    pub fn start(
        &mut self,
        project: Option<&Project>,
        parent: PathBuf,
        annotator: Option<&str>,
        notify: Option<Notify>,
    ) {
        if self.job.is_some() {
            return;
        }
        let Some(project) = project.cloned() else {
            self.outcome = Some(Err(Arc::new(RetrainJobError::NoProject)));
            return;
        };
        let request = RetrainRequest {
            selection: match (self.mine_only, annotator) {
                (true, Some(me)) => Selection::Annotator(me.to_owned()),
                _ => Selection::Consensus,
            },
            include_accepted: self.include_accepted,
            steps: self.steps,
            ..RetrainRequest::default()
        };
        self.outcome = None;
        let job = Job::spawn("retrain", notify, move |context| {
            let environment = TrainingEnvironment::locate()?;
            Ok(retrain_project(
                &project,
                &parent,
                &request,
                &environment,
                context,
            )?)
        });
        match job {
            Ok(job) => self.job = Some(job),
            Err(error) => self.outcome = Some(Err(Arc::new(error.into()))),
        }
    }

    /// Takes the finished retrain's outcome (and lists the project's models again).
    pub fn poll(&mut self, project: Option<&Project>) {
        if let Some(result) = self.job.as_mut().and_then(Job::try_take) {
            self.job = None;
            let result = result.unwrap_or_else(|panicked| Err(panicked.into()));
            if let Err(error) = &result
                && !error.is_cancelled()
            {
                tracing::warn!("retrain: {error}");
            }
            self.outcome = Some(result.map_err(Arc::new));
            self.refresh(project);
        }
    }

    pub fn cancel(&self) {
        if let Some(job) = &self.job {
            job.cancel();
        }
    }

    /// Reads the project's `models/` folder again.
    pub fn refresh(&mut self, project: Option<&Project>) {
        self.models = project.map(list_models).unwrap_or_default();
    }

    /// Whether switching to `model` should be confirmed first: it scores below its parent.
    #[must_use]
    pub fn needs_confirmation(&self, model: &std::path::Path) -> bool {
        self.models
            .iter()
            .find(|m| m.path == model)
            .and_then(|m| m.card.as_ref())
            .is_some_and(crate::learning::FineTuneCard::is_worse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysed(class: &str) -> Option<Prediction> {
        Some(Prediction::Analysed {
            class: class.into(),
            confidence: 0.9,
            probs: vec![0.9, 0.1],
            classes: vec!["angry".into(), "sad".into()],
        })
    }

    #[test]
    fn changes_are_counted_where_both_models_have_a_prediction() {
        let comparison = Comparison {
            previous_model: "parent.onnx".into(),
            predictions: vec![analysed("angry"), analysed("sad"), None, analysed("sad")],
        };
        let now = vec![analysed("sad"), analysed("sad"), analysed("angry"), None];
        assert_eq!(comparison.changed(0, now[0].as_ref()), Some("angry"));
        assert_eq!(comparison.changed(1, now[1].as_ref()), None);
        assert_eq!(comparison.changed(2, now[2].as_ref()), None);
        assert_eq!(comparison.count_changed(&now), (1, 2));
    }
}
